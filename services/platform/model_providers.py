"""Which model provider serves a model, whether it is set up, and what an agent's runtime is told about it.

Claude models go to Anthropic's Messages API, every other model to an OpenAI-compatible Chat Completions API (OpenAI
itself, or OPENAI_BASE_URL: Ollama, vLLM, a gateway). The wizard offers only models whose provider is set up.
"""
from typing import Literal

import httpx

from .errors import DomainError
from .settings import Settings, get_settings

ProviderKind = Literal['anthropic', 'openai']
KEYLESS_PLACEHOLDER = 'no-key'
"""The key sent for an OpenAI-compatible server that needs none: the official SDK refuses an empty key."""
DEFAULT_BASE_URLS = {'anthropic': 'https://api.anthropic.com', 'openai': 'https://api.openai.com/v1'}
MODELS_PATH = {'anthropic': '/v1/models', 'openai': '/models'}
"""Anthropic's base URL has no version in it, OpenAI's has (as each official SDK composes them)."""
KEY_SETTING = {'anthropic': 'ANTHROPIC_API_KEY', 'openai': 'OPENAI_API_KEY'}
CHECK_TIMEOUT_SECONDS = 10.0
NONE_CONFIGURED = ('No model provider is set up, so agents cannot answer: set ANTHROPIC_API_KEY, OPENAI_API_KEY or '
                   'OPENAI_BASE_URL (an OpenAI-compatible server such as Ollama) and restart AgentHost.')


class ProviderError(DomainError):
    pass


def kind_of(model: str) -> ProviderKind:
    return 'anthropic' if model.startswith('claude') else 'openai'


def is_configured(kind: ProviderKind, settings: Settings | None = None) -> bool:
    """A provider with a key, or an OpenAI-compatible server of the operator's own (which may need none)."""
    settings = settings or get_settings()
    if kind == 'anthropic':
        return bool(settings.anthropic_api_key)
    return bool(settings.openai_api_key or settings.openai_base_url)


def configured_kinds() -> list[ProviderKind]:
    return [kind for kind in ('anthropic', 'openai') if is_configured(kind)]


def offered_models() -> list[str]:
    """AGENT_MODELS whose provider is set up, in their order (the first is the wizard's default)."""
    return [model for model in get_settings().agent_models if is_configured(kind_of(model))]


def provider_config(model: str) -> dict:
    """The `provider` section of an agent's config: its kind, base URL (None for the provider's own) and key."""
    settings = get_settings()
    if kind_of(model) == 'anthropic':
        return {'kind': 'anthropic', 'base_url': settings.anthropic_base_url or None,
                'api_key': settings.anthropic_api_key}
    key = settings.openai_api_key or (KEYLESS_PLACEHOLDER if settings.openai_base_url else '')
    return {'kind': 'openai', 'base_url': settings.openai_base_url or None, 'api_key': key}


def list_model_ids(kind: ProviderKind) -> list[str]:
    """The provider's model list: the cheapest call that proves the key works. ProviderError names what failed."""
    settings = get_settings()
    config = provider_config('claude' if kind == 'anthropic' else 'gpt')
    base_url = config['base_url'] or DEFAULT_BASE_URLS[kind]
    headers = ({'x-api-key': config['api_key'], 'anthropic-version': '2023-06-01'} if kind == 'anthropic'
               else {'Authorization': f'Bearer {config["api_key"]}'})
    try:
        answer = httpx.get(base_url + MODELS_PATH[kind], headers=headers, timeout=CHECK_TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        raise ProviderError('PROVIDER_UNREACHABLE', f'{base_url} could not be reached ({type(error).__name__}): check '
                                                    f'the address and that the server runs.') from None
    if answer.status_code in (401, 403):
        setting = KEY_SETTING[kind] if kind == 'anthropic' or settings.openai_api_key else 'OPENAI_BASE_URL'
        raise ProviderError('PROVIDER_REFUSED', f'{setting} was refused ({answer.status_code}): set a valid key.')
    if answer.status_code != 200:
        raise ProviderError('PROVIDER_FAILED', f'{base_url} answered {answer.status_code} to the model list.')
    try:
        return [str(entry['id']) for entry in answer.json()['data']]
    except (ValueError, KeyError, TypeError):
        raise ProviderError('PROVIDER_FAILED', f'{base_url} answered a model list in an unknown shape.') from None
