"""What the runtime serves with right now: one immutable Active (config and its provider), replaced by reference."""
import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

from .config import AgentConfig
from .providers import PROVIDER_TIMEOUT_SECONDS, Provider, provider_for

log = logging.getLogger('runtime')

FAILURES_BEFORE_DEGRADED = 3


@dataclass(frozen=True)
class Active:
    config: AgentConfig
    provider: Provider


@dataclass
class Usage:
    """Cumulative since this process started, so a lost or repeated heartbeat never miscounts."""
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    keys_used: dict[str, float] = field(default_factory=dict)
    """{key id: unix time of its last use}, as heartbeats report it."""

    def add(self, input_tokens: int, output_tokens: int) -> None:
        self.requests += 1
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens

    def key_used(self, key_id: int) -> None:
        self.keys_used[str(key_id)] = time.time()


@dataclass
class RuntimeState:
    active: Active | None = None
    seen_revision: int | None = None
    problem: str = ''
    control_problem: str = ''
    usage: Usage = field(default_factory=Usage)
    background: set[asyncio.Task] = field(default_factory=set)
    configured: asyncio.Event = field(default_factory=asyncio.Event)
    boot_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    provider_failures: int = 0
    provider_problem: str = ''
    secret_keepers: list = field(default_factory=list)
    """Callables told every provider key applied (the log book masks them)."""

    def apply(self, config: AgentConfig) -> None:
        """Swaps the new config in with one assignment; the old provider closes once its requests had time."""
        previous = self.active
        for keep_secret in self.secret_keepers:
            keep_secret(config.provider_api_key)
        self.active = Active(config, provider_for(config))
        self.seen_revision = config.revision
        self.problem = ''
        self.configured.set()
        log.info('applied config revision %s (model %s)', config.revision, config.model)
        if previous is not None:
            self.spawn(close_later(previous.provider))

    def refuse(self, revision: int | None, reason: str) -> None:
        """Keeps the last good config and says why the new one was not applied."""
        if revision is not None:
            self.seen_revision = revision
        kept = f'; still serving revision {self.active.config.revision}' if self.active else ''
        self.problem = f'config revision {revision} not applied: {reason}{kept}'
        log.warning('%s', self.problem)

    def health(self) -> tuple[str, str]:
        """`ok`, or `degraded` with the reason: no config yet, a newer one that could not be applied, or a model
        provider that failed the last few requests in a row."""
        if self.active is None:
            return 'degraded', self.problem or 'no configuration received yet'
        if self.problem:
            return 'degraded', self.problem
        if self.provider_failures >= FAILURES_BEFORE_DEGRADED:
            return 'degraded', f'the last {self.provider_failures} model calls failed: {self.provider_problem}'
        return 'ok', ''

    def provider_failed(self, message: str) -> None:
        self.provider_failures += 1
        self.provider_problem = message
        log.warning('model call failed: %s', message)

    def provider_answered(self) -> None:
        if self.provider_failures:
            log.info('the model provider answers again after %s failed call(s)', self.provider_failures)
        self.provider_failures = 0
        self.provider_problem = ''

    def spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.background.add(task)
        task.add_done_callback(self.background.discard)


async def close_later(provider: Provider) -> None:
    await asyncio.sleep(PROVIDER_TIMEOUT_SECONDS + 5)
    await provider.close()
