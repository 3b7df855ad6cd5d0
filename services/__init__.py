"""The rules, one package per domain: `accounts`, `billing`, `provisioning`, `platform` and `operator`.

Each package's `__init__` says what it owns and what the others may call; docs/architecture.md lists them.
"""
