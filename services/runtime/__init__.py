"""The agent runtime's control plane: what AgentHost tells a running agent and what it hears back.

`api_keys` (the customer's keys to the agent's endpoint, and AgentHost's own chat key) and `usage` (usage per
billing period, from heartbeats) live here; config revisions, runtime tokens, bootstrap, the long-polled config
answer, heartbeats and chat join them. Every function is synchronous, like the rest of `services/`.
"""
from .errors import RuntimeControlError

__all__ = ['RuntimeControlError']
