"""The world a benchmark runs in: the Stripe and GitHub doubles from tests/, and accounts prepared in the app's
database through the app's own services before the server starts."""
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.github_double import REPOSITORY, GitHubDouble
from tests.provisioning_support import TOKEN as GITHUB_TOKEN
from tests.stripe_double import API_KEY, PRICES, WEBHOOK_SECRET, StripeDouble, free_port, serving

from .servers import AppServer, app_server

CALLBACK_SECRET = 'bench-callback-secret'
GITHUB_WEBHOOK_SECRET = 'bench-github-secret'
PASSWORD = 'benchmark password'
MODEL_PROVIDER = {'ANTHROPIC_API_KEY': 'bench-provider-key', 'ANTHROPIC_BASE_URL': 'http://127.0.0.1:9'}
"""A provider set up, so the wizard's default model may be chosen; no row here asks a model anything."""


@dataclass
class Account:
    user_id: int
    email: str
    token: str
    agent_ids: list[int] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {'Authorization': f'Bearer {self.token}'}


@dataclass
class World:
    app: AppServer
    stripe: StripeDouble
    github: GitHubDouble
    accounts: list[Account]


def settings_for(stripe_url: str, github_url: str) -> dict[str, str]:
    return {'STRIPE_SECRET_KEY': API_KEY, 'STRIPE_WEBHOOK_SECRET': WEBHOOK_SECRET, 'STRIPE_API_BASE': stripe_url,
            'STRIPE_PRICE_STARTER': PRICES['starter'], 'STRIPE_PRICE_PRO': PRICES['pro'],
            'STRIPE_PRICE_BUSINESS': PRICES['business'], 'GITHUB_TOKEN': GITHUB_TOKEN, 'GITHUB_REPOSITORY': REPOSITORY,
            'GITHUB_API_URL': github_url, 'CALLBACK_SECRET': CALLBACK_SECRET,
            'GITHUB_WEBHOOK_SECRET': GITHUB_WEBHOOK_SECRET, **MODEL_PROVIDER}


@contextmanager
def settings_of_the_row(data_dir: Path, settings: dict[str, str]) -> Iterator[None]:
    """This process's environment as the row's app will have it, for the app's own code run here; put back after,
    so one row's settings (PROVISIONER=local, say) never reach the next row's app."""
    saved = dict(os.environ)
    os.environ.update({**settings, 'DATA_DIR': str(data_dir), 'AGENTHOST_ENV_FILE': ''})
    if 'DATABASE_URL' not in settings:
        os.environ.pop('DATABASE_URL', None)  # SQLite in the data dir, unless the row asks for PostgreSQL
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def prepare_accounts(data_dir: Path, settings: dict[str, str], *, users: int, agents_each: int) -> list[Account]:
    """Users with a business comp grant (10 agents), an API token and draft agents, written with the app's code."""
    with settings_of_the_row(data_dir, settings):
        return _prepare_accounts(users, agents_each)


def _prepare_accounts(users: int, agents_each: int) -> list[Account]:
    import models
    from services.accounts import accounts
    from services.billing import billing
    from services.platform.settings import Settings, configure
    from services.provisioning import agents

    configured = configure(Settings())
    models.open_database(configured.resolved_database_url)
    models.migrate()
    prepared = []
    for number in range(users):
        user = accounts.create_user(email=f'bench{number}@example.com', password=PASSWORD)
        billing.grant_complimentary(user=user, plan='business', granted_by='bench')
        account = Account(user.id, user.email, accounts.create_token(user=user, name='bench'))
        for agent_number in range(agents_each):
            agent = agents.create_agent(owner=user, data={'name': f'bench {number}-{agent_number}'})
            account.agent_ids.append(agent.id)
        prepared.append(account)
    models.db.close()
    return prepared


def running_doubles(stack: ExitStack) -> tuple[StripeDouble, GitHubDouble, dict[str, str]]:
    """The Stripe and GitHub doubles, serving until `stack` closes, and the app's settings that point at them."""
    stripe = StripeDouble()
    stripe_port = free_port()
    stripe.base_url = f'http://127.0.0.1:{stripe_port}'
    stack.enter_context(serving(stripe.app, stripe_port))
    github = GitHubDouble(webhook_secret=GITHUB_WEBHOOK_SECRET)
    stack.callback(github.close)
    return stripe, github, settings_for(stripe.base_url, github.url)


@contextmanager
def world(*, users: int = 1, agents_each: int = 1) -> Iterator[World]:
    """Both doubles running, accounts prepared, and the app serving on SQLite in a fresh data dir."""
    with ExitStack() as stack:
        stripe, github, settings = running_doubles(stack)
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix='agenthost-world-')))
        prepared = prepare_accounts(data_dir, settings, users=users, agents_each=agents_each)
        app = stack.enter_context(app_server(settings, data_dir=data_dir))
        yield World(app, stripe, github, prepared)
