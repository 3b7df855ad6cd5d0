"""The agent's configuration as AgentHost sends it: parsed once into an immutable object, or refused as unusable."""
from dataclasses import dataclass
from typing import NamedTuple

PROVIDER_KINDS = ('anthropic', 'openai')


class UnusableConfig(Exception):
    """A configuration the runtime cannot serve with; the last good one stays in use and the reason is reported."""


class KeyHash(NamedTuple):
    id: int
    sha256: str


@dataclass(frozen=True)
class AgentConfig:
    revision: int
    agent_id: int | str
    name: str
    model: str
    system_prompt: str
    provider_kind: str
    provider_base_url: str | None
    provider_api_key: str
    api_keys: tuple[KeyHash, ...]
    heartbeat_seconds: float


def sdk_kind_for(model: str) -> str:
    """Claude models speak Anthropic's Messages API; every other model an OpenAI-compatible one."""
    return 'anthropic' if model.startswith('claude') else 'openai'


def _required_text(section: dict, name: str, where: str) -> str:
    value = section.get(name)
    if not isinstance(value, str):
        raise UnusableConfig(f'{where}.{name} is missing or not text')
    return value


def _key_hashes(entries: object) -> tuple[KeyHash, ...]:
    if not isinstance(entries, list):
        raise UnusableConfig('api_keys is not a list')
    try:
        return tuple(KeyHash(int(entry['id']), str(entry['sha256']).lower()) for entry in entries)
    except (TypeError, KeyError, ValueError) as error:
        raise UnusableConfig(f'api_keys has an entry without id and sha256 ({error})') from None


def _revision(payload: dict) -> int:
    revision = payload.get('revision')
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise UnusableConfig('revision is missing or not a number')
    return revision


def _provider(payload: dict, model: str) -> tuple[str, str | None, str]:
    provider = payload.get('provider')
    if not isinstance(provider, dict):
        raise UnusableConfig('provider is missing')
    kind = provider.get('kind')
    if kind not in PROVIDER_KINDS:
        raise UnusableConfig(f'provider kind {kind!r} is unknown (known: {", ".join(PROVIDER_KINDS)})')
    if kind != sdk_kind_for(model):
        raise UnusableConfig(f'model {model!r} needs the {sdk_kind_for(model)} provider, not {kind}')
    base_url = provider.get('base_url')
    if base_url is not None and not isinstance(base_url, str):
        raise UnusableConfig('provider.base_url is not text')
    api_key = provider.get('api_key')
    if not isinstance(api_key, str) or not api_key:
        raise UnusableConfig(f'the {kind} provider has no API key')
    return kind, base_url or None, api_key


def _heartbeat_seconds(payload: dict) -> float:
    seconds = payload.get('heartbeat_seconds', 15)
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
        raise UnusableConfig('heartbeat_seconds is not a positive number')
    return float(seconds)


def parse_config(payload: object) -> AgentConfig:
    """The config answer as one immutable object; raises UnusableConfig naming what is wrong."""
    if not isinstance(payload, dict):
        raise UnusableConfig('the config answer is not a JSON object')
    agent = payload.get('agent')
    if not isinstance(agent, dict):
        raise UnusableConfig('agent is missing')
    model = _required_text(agent, 'model', 'agent')
    if not model:
        raise UnusableConfig('agent.model is empty')
    kind, base_url, api_key = _provider(payload, model)
    return AgentConfig(revision=_revision(payload), agent_id=agent.get('id'), name=str(agent.get('name') or ''),
                       model=model, system_prompt=_required_text(agent, 'system_prompt', 'agent'),
                       provider_kind=kind, provider_base_url=base_url, provider_api_key=api_key,
                       api_keys=_key_hashes(payload.get('api_keys')),
                       heartbeat_seconds=_heartbeat_seconds(payload))
