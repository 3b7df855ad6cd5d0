"""Which model provider serves a model, and what its runtime is told about that provider.

Claude models go to Anthropic's Messages API, every other model to an OpenAI-compatible Chat Completions API (OpenAI
itself, or OPENAI_BASE_URL: Ollama, vLLM, a gateway).
"""
from typing import Literal

from .settings import get_settings

ProviderKind = Literal['anthropic', 'openai']
KEYLESS_PLACEHOLDER = 'no-key'
"""The key sent for an OpenAI-compatible server that needs none: the official SDK refuses an empty key."""


def kind_of(model: str) -> ProviderKind:
    return 'anthropic' if model.startswith('claude') else 'openai'


def provider_config(model: str) -> dict:
    """The `provider` section of an agent's config: its kind, base URL (None for the provider's own) and key."""
    settings = get_settings()
    if kind_of(model) == 'anthropic':
        return {'kind': 'anthropic', 'base_url': settings.anthropic_base_url or None,
                'api_key': settings.anthropic_api_key}
    key = settings.openai_api_key or (KEYLESS_PLACEHOLDER if settings.openai_base_url else '')
    return {'kind': 'openai', 'base_url': settings.openai_base_url or None, 'api_key': key}
