"""Whether AgentHost is shutting down: the web server drains open requests before the app's shutdown hooks run, so
a request that waits on purpose (the runtime's long poll) must notice on its own, or it would hold the exit up."""
from nicegui import app
from nicegui.server import Server


def is_shutting_down() -> bool:
    server = getattr(Server, 'instance', None)
    return bool(server is not None and server.should_exit) or app.is_stopping or app.is_stopped
