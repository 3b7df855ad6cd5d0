"""The rules, one package per domain: `accounts`, `billing`, `provisioning`, `runtime` (the control plane of the
agents' runtimes), `platform` and `operator`.

Each package's `__init__` says what it owns and what the others may call; docs/architecture.md lists them.
"""
