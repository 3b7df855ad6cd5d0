"""Every setting of AgentHost in one typed object, read from the environment and an optional `.env`.

The README documents each field (a test holds it to that); the admin setup checklist reads the same object.
"""
import os
import secrets
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DATABASE_SCHEMES = ('sqlite:///', 'postgresql://', 'postgres://', 'postgresql+pool://')
CommaList = Annotated[list[str], NoDecode]


class SettingsError(Exception):
    """A setting has a value the app cannot start with; the message names the variable and the fix."""


class Settings(BaseSettings):
    # AGENTHOST_ENV_FILE lets tests (and unusual installs) point away from ./.env; empty disables it.
    model_config = SettingsConfigDict(env_file=os.environ.get('AGENTHOST_ENV_FILE', '.env') or None, extra='ignore')

    database_url: str = Field('', description='`sqlite:///path` or `postgresql://user@host:port/db`; '
                                              'empty means `sqlite:///<DATA_DIR>/agenthost.db`')
    host: str = Field('127.0.0.1', description='address the web server listens on')
    port: int = Field(8080, ge=1, le=65535, description='port the web server listens on')
    header_timeout_seconds: float = Field(10.0, gt=0, description='a connection whose request headers take longer '
                                                                  'to arrive is closed')
    public_url: str = Field('http://localhost:8080', description='how Stripe, GitHub and browsers reach this app')
    storage_secret: str = Field('', description='signs session cookies; generated once and kept in DATA_DIR '
                                                'when unset')
    stripe_secret_key: str = Field('', description='Stripe API key; unset means billing is not configured')
    stripe_webhook_secret: str = Field('', description='`whsec_…` signing secret of the Stripe webhook endpoint')
    stripe_api_base: str = Field('https://api.stripe.com', description='Stripe-compatible API base (test servers)')
    stripe_price_starter: str = Field('', description='Stripe price id of the starter plan')
    stripe_price_pro: str = Field('', description='Stripe price id of the pro plan')
    stripe_price_business: str = Field('', description='Stripe price id of the business plan')
    billing_mode: Literal['subscription', 'per_agent'] = Field('subscription', description='`subscription` (plans) '
                                                               'or `per_agent` (one subscription per agent)')
    stripe_price_agent: str = Field('', description='Stripe price id used in `per_agent` mode')
    github_token: str = Field('', description='token allowed to dispatch workflows (Actions: write)')
    github_repository: str = Field('', description='`owner/name` of the repository holding the workflow')
    github_workflow: str = Field('provision-agent.yml', description='workflow file name or id')
    github_ref: str = Field('main', description='branch or tag the workflow runs on')
    github_api_url: str = Field('https://api.github.com', description='GitHub REST base (GitHub Enterprise, tests)')
    github_webhook_secret: str = Field('', description='secret of the repository webhook; unset means the '
                                                       'endpoint answers 503')
    provisioner: Literal['', 'github', 'local'] = Field('', description='`github` (a server per agent through GitHub '
                                                        'Actions) or `local` (agents as processes on this machine); '
                                                        'empty means `github` when GITHUB_TOKEN is set, else `local`')
    callback_secret: str = Field('', description='shared with the workflow to sign provisioning callbacks')
    provision_timeout_minutes: int = Field(30, ge=1, description='a job with no news for this long is checked '
                                                                 'and failed')
    github_timeout_seconds: float = Field(15.0, gt=0, description='how long one GitHub API request may take '
                                                                  'before it counts as failed')
    github_dispatch_attempts: int = Field(6, ge=1, description='attempts at dispatching a job before a transient '
                                                               'GitHub failure fails it')
    github_retry_base_seconds: float = Field(2.0, gt=0, description='first back-off delay after a transient GitHub '
                                                                    'failure; doubles each attempt, with jitter')
    github_retry_max_seconds: float = Field(600.0, gt=0, description='longest back-off delay of our own (GitHub\'s '
                                                                     '`Retry-After` is always honoured in full)')
    billing_grace_days: int = Field(3, ge=0, description='how long `past_due` still counts as entitled')
    data_dir: Path = Field(Path('data'), description='folder for the SQLite database, storage secret and '
                                                     'NiceGUI storage')
    metrics_token: str = Field('', description='bearer token `GET /metrics` requires; unset means no token (keep '
                                               '/metrics off the public internet at the proxy)')
    log_format: Literal['text', 'json'] = Field('text', description='log lines as `text` or `json`')
    smtp_url: str = Field('', description='`smtp://user:pass@host:port` (STARTTLS when offered) or `smtps://…` '
                                          '(TLS) for notifications; unset means no mail')
    mail_from: str = Field('', description='sender address of notification mail')
    agent_models: CommaList = Field(['claude-sonnet-4-5', 'claude-haiku-4-5', 'gpt-4.1'],
                                    description='comma-separated models offered in the wizard; the first is the '
                                                'default')
    agent_regions: CommaList = Field(['fsn1', 'nbg1', 'hel1', 'ash'],
                                     description='comma-separated server regions; the first is the default')
    agent_sizes: CommaList = Field(['small', 'medium', 'large'],
                                   description='comma-separated server sizes; the first is the default')
    agent_heartbeat_seconds: float = Field(15.0, gt=0, description='how often each agent\'s runtime reports '
                                                                   'its health and usage (fractions allowed)')
    agent_heal_minutes: float = Field(10.0, gt=0, description='how long a running agent may stay unreachable '
                                                              'before AgentHost provisions it again (fractions '
                                                              'allowed)')
    agent_heal_max: int = Field(3, ge=0, description='heals per agent in 24 hours; once they are used up, an agent '
                                                     'that stays unreachable fails with the reason')
    anthropic_api_key: str = Field('', description='Anthropic API key for Claude models; sent only to agents\' '
                                                   'runtimes, inside their config')
    anthropic_base_url: str = Field('', description='Anthropic-compatible API base; unset means Anthropic\'s')
    openai_api_key: str = Field('', description='OpenAI API key for all other models; sent only to agents\' '
                                                'runtimes, inside their config')
    openai_base_url: str = Field('', description='OpenAI-compatible API base such as http://127.0.0.1:11434/v1 '
                                                 '(Ollama, vLLM, a gateway); a key is optional then')

    @field_validator('agent_models', 'agent_regions', 'agent_sizes', mode='before')
    @classmethod
    def split_comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(',') if item.strip()]
        if not value:
            raise ValueError('needs at least one value')
        return value

    @field_validator('database_url')
    @classmethod
    def check_database_url(cls, value: str) -> str:
        if value and not value.startswith(DATABASE_SCHEMES):
            raise ValueError(f'must start with one of {", ".join(DATABASE_SCHEMES)} '
                             '(for example sqlite:///data/agenthost.db)')
        return value

    @field_validator('smtp_url')
    @classmethod
    def check_smtp_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ('smtp', 'smtps') or not parts.hostname or parts.port == 0):
            raise ValueError('must look like smtp://user:password@host:587 (STARTTLS when offered) or '
                             'smtps://user:password@host:465 (TLS)')
        return value

    @field_validator('public_url', 'stripe_api_base', 'github_api_url')
    @classmethod
    def check_http_url(cls, value: str) -> str:
        if not value.startswith(('http://', 'https://')):
            raise ValueError('must be an http:// or https:// address')
        return value.rstrip('/')

    @field_validator('anthropic_base_url', 'openai_base_url')
    @classmethod
    def check_provider_url(cls, value: str) -> str:
        if value and not value.startswith(('http://', 'https://')):
            raise ValueError('must be an http:// or https:// address, such as http://127.0.0.1:11434/v1 for Ollama '
                             '(or empty for the provider\'s own)')
        return value.rstrip('/')

    @property
    def provisioner_kind(self) -> Literal['github', 'local']:
        """Where agents run: a fresh install without GitHub settings runs them on this machine."""
        return self.provisioner or ('github' if self.github_token else 'local')

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f'sqlite:///{self.data_dir / "agenthost.db"}'

    def session_secret(self) -> str:
        """The configured secret, or one generated on first start and kept so sessions survive restarts."""
        if self.storage_secret:
            return self.storage_secret
        path = self.data_dir / 'storage_secret'
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()


def load_settings() -> Settings:
    """Read the settings, turning pydantic's report into one line per bad variable."""
    try:
        return Settings()
    except ValidationError as error:
        lines = [f'  {str(e["loc"][0]).upper()}: {e["msg"].removeprefix("Value error, ")}' for e in error.errors()]
        raise SettingsError('Invalid configuration:\n' + '\n'.join(lines)) from None


_current: Settings | None = None


def configure(new: Settings) -> Settings:
    """Make `new` the settings every service reads; called once by `main.py` (and by tests)."""
    global _current  # noqa: PLW0603
    _current = new
    return new


def get_settings() -> Settings:
    if _current is None:
        raise RuntimeError('settings are not configured: main.py calls configure() at start')
    return _current
