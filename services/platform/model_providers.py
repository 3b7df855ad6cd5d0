"""Which model provider serves a model, whether it is set up, and what an agent's runtime is told about it.

Claude models go to Anthropic's Messages API, every other model to an OpenAI-compatible Chat Completions API (OpenAI
itself, or OPENAI_BASE_URL: Ollama, vLLM, a gateway). The wizard offers only models whose provider is set up.
"""
from typing import Literal

import anthropic
import openai

from .errors import DomainError
from .settings import Settings, get_settings

ProviderKind = Literal['anthropic', 'openai']
KEYLESS_PLACEHOLDER = 'no-key'
"""The key sent for an OpenAI-compatible server that needs none: the official SDK refuses an empty key."""
DEFAULT_BASE_URLS = {'anthropic': 'https://api.anthropic.com', 'openai': 'https://api.openai.com/v1'}
"""Where each official SDK goes without a base URL."""
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
    """The provider's model list through its official SDK: the cheapest call that proves the key works.
    ProviderError names what failed and what to do."""
    config = provider_config('claude' if kind == 'anthropic' else 'gpt')
    address = config['base_url'] or DEFAULT_BASE_URLS[kind]
    try:
        with _sdk_client(kind, config['api_key'], address) as client:
            return [str(model.id) for model in client.models.list()]
    except (anthropic.AuthenticationError, anthropic.PermissionDeniedError,
            openai.AuthenticationError, openai.PermissionDeniedError) as error:
        setting = KEY_SETTING[kind] if kind == 'anthropic' or get_settings().openai_api_key else 'OPENAI_BASE_URL'
        raise ProviderError('PROVIDER_REFUSED',
                            f'{setting} was refused ({error.status_code}): set a valid key.') from None
    except (anthropic.APIConnectionError, openai.APIConnectionError) as error:
        raise ProviderError('PROVIDER_UNREACHABLE', f'{address} could not be reached ({type(error).__name__}): check '
                                                    'the address and that the server runs.') from None
    except (anthropic.APIStatusError, openai.APIStatusError) as error:
        raise ProviderError('PROVIDER_FAILED', f'{address} answered {error.status_code} to the model list: check the '
                                               "provider's status, then reload this page.") from None
    except (anthropic.APIError, openai.APIError):
        expected = 'Anthropic' if kind == 'anthropic' else 'OpenAI'
        raise ProviderError('PROVIDER_FAILED', f'{address} answered a model list in an unknown shape: check that it '
                                               f'speaks the {expected} API.') from None


def _sdk_client(kind: ProviderKind, api_key: str, base_url: str) -> anthropic.Anthropic | openai.OpenAI:
    """One try, a short timeout: the checklist reports a failure rather than waiting out retries. The address is
    always given, so the SDK never reads a different one from this process's environment."""
    if kind == 'anthropic':
        return anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=CHECK_TIMEOUT_SECONDS, max_retries=0)
    return openai.OpenAI(api_key=api_key, base_url=base_url, timeout=CHECK_TIMEOUT_SECONDS, max_retries=0)
