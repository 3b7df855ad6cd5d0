"""The agent runtime: the small service that answers an agent's OpenAI-compatible endpoint.

It takes its configuration (model, system prompt, provider key, the hashes of the agent's API keys) from AgentHost
by long-polling, calls the model provider through the official SDKs, and reports heartbeats with cumulative usage.
It shares no code with AgentHost so that it can ship as an image of its own.
"""
