"""Row `startup`: seconds from launch to the first /healthz 200, for `make run`'s server and the binary."""

from .servers import ROOT, app_server

BINARY = ROOT / 'dist' / 'agenthost'


def measure(command: list[str] | None = None) -> float:
    with app_server(command=command) as server:
        return server.startup_seconds


def binary_command() -> list[str] | None:
    return [str(BINARY)] if BINARY.exists() else None
