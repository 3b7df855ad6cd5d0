"""The admin setup checklist: each setting checked live, each failing row saying exactly what to do."""
from dataclasses import dataclass
from urllib.parse import urlparse

from ..billing import stripe_api
from ..billing.plans import PER_AGENT_PLAN, find_plan, plans
from ..platform import model_providers
from ..platform.settings import get_settings
from ..provisioning.github import GitHub, GitHubError


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def stripe_checks() -> list[Check]:
    settings = get_settings()
    if not settings.stripe_secret_key:
        return [Check('Stripe API key', False, 'STRIPE_SECRET_KEY is unset: copy the secret key from Stripe '
                                               '(Developers → API keys) into the environment.')]
    checks = [_check_key(settings.stripe_secret_key)]
    if not checks[0].ok:
        return checks
    names = [PER_AGENT_PLAN] if settings.billing_mode == 'per_agent' else [plan.name for plan in plans()]
    checks += [_check_price(name) for name in names]
    secret = settings.stripe_webhook_secret
    checks.append(Check('Stripe webhook secret', secret.startswith('whsec_'),
                        'set' if secret.startswith('whsec_') else
                        f'STRIPE_WEBHOOK_SECRET is {"not a whsec_… value" if secret else "unset"}: create the '
                        f'endpoint {settings.public_url}/api/webhooks/stripe in Stripe and copy its signing secret.'))
    return checks


def provisioning_checks() -> list[Check]:
    """Where agents run: on this machine (PROVISIONER=local, nothing to set up), or on servers through GitHub."""
    if get_settings().provisioner_kind == 'local':
        return [Check('Agents run on this machine', True, 'PROVISIONER is local: each agent runs as a process of '
                                                          'AgentHost on 127.0.0.1. Set PROVISIONER=github (with '
                                                          'GITHUB_TOKEN) to give each agent a server instead.')]
    return github_checks()


def provider_checks() -> list[Check]:
    """Each model provider that is set up, asked for its model list; or the one thing to set when none is."""
    kinds = model_providers.configured_kinds()
    if not kinds:
        return [Check('Model provider', False, model_providers.NONE_CONFIGURED)]
    checks = []
    for kind in kinds:
        name = f'{"Anthropic" if kind == "anthropic" else "OpenAI-compatible"} model provider'
        try:
            models = model_providers.list_model_ids(kind)
        except model_providers.ProviderError as error:
            checks.append(Check(name, False, error.message))
        else:
            checks.append(Check(name, True, f'answers with {len(models)} model(s)'))
    return checks


def github_checks() -> list[Check]:
    """The token, the workflow file and the ref, checked live against GitHub."""
    settings = get_settings()
    missing = [name for name, value in (('GITHUB_TOKEN', settings.github_token),
                                        ('GITHUB_REPOSITORY', settings.github_repository)) if not value]
    if missing:
        return [Check('GitHub token', False, f'{" and ".join(missing)} unset: create a token with Actions: write on '
                                             'the infra repository and set both.')]
    github = GitHub(settings)
    checks = []
    for name, check in (('GitHub token can dispatch', github.can_dispatch), ('Workflow file', github.workflow_exists),
                        ('Workflow ref', github.ref_exists)):
        try:
            ok, detail = check()
        except GitHubError as error:
            ok, detail = False, error.message
        checks.append(Check(name, ok, detail))
        if name == 'GitHub token can dispatch' and not ok:
            break  # without access the other rows would only repeat the same refusal
    return checks


def config_checks(*, reached_at: str | None = None) -> list[Check]:
    """`reached_at` is the origin the admin's own browser used to reach this page (scheme, host and port, as the
    proxy forwarded them): a PUBLIC_URL that differs sends Stripe, GitHub and users' browsers somewhere else."""
    settings = get_settings()
    callbacks = [Check('Callback secret', bool(settings.callback_secret),
                       'set' if settings.callback_secret else 'CALLBACK_SECRET is unset: generate one (e.g. `openssl '
                                                              'rand -hex 32`) and store the same value as a secret '
                                                              'of the workflow repository.')]
    return [*(callbacks if settings.provisioner_kind == 'github' else []),
            _check_public_url(settings.public_url, reached_at)]


def origin_of(url: str) -> str:
    """`scheme://host[:port]` in lower case, without the scheme's default port."""
    parts = urlparse(url.strip())
    default_port = {'http': 80, 'https': 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = f'[{parts.hostname}]' if parts.hostname and ':' in parts.hostname else (parts.hostname or '')
    return f'{parts.scheme.lower()}://{host}' + (f':{port}' if port and port != default_port else '')


def _check_public_url(public_url: str, reached_at: str | None) -> Check:
    public = urlparse(public_url)
    https = public.scheme == 'https' or public.hostname in ('localhost', '127.0.0.1', '::1')
    if reached_at and origin_of(public_url) != origin_of(reached_at):
        return Check('Public URL', False, f'PUBLIC_URL is {public_url}, but this page was reached at '
                                          f'{origin_of(reached_at)}: set PUBLIC_URL={origin_of(reached_at)} (the '
                                          'address Stripe, GitHub and browsers use), or open AgentHost at its '
                                          'public address.')
    if not https:
        return Check('Public URL', False, f'{public_url} is not https: Stripe and GitHub need an https PUBLIC_URL in '
                                          'production.')
    return Check('Public URL', True, public_url)


def _check_key(key: str) -> Check:
    mode = 'live' if '_live_' in key else 'test'
    try:
        stripe_api.call(lambda stripe: stripe.v1.accounts.retrieve_current())
    except stripe_api.StripeCallError as error:
        return Check('Stripe API key', False, error.message)
    return Check('Stripe API key', True, f'valid ({mode} mode)')


def _check_price(plan_name: str) -> Check:
    plan = find_plan(plan_name)
    variable = f'STRIPE_PRICE_{plan_name.upper()}'
    label = f'Price of the {plan_name} plan'
    if plan is None or not plan.price_id:
        return Check(label, False, f'{variable} is unset: create a recurring monthly price in Stripe and set its '
                                   'id (price_…).')
    try:
        price = stripe_api.call(lambda stripe: stripe.v1.prices.retrieve(plan.price_id))
    except stripe_api.StripeCallError as error:
        return Check(label, False, f'{variable}={plan.price_id}: {error.message}')
    if price.get('type') != 'recurring' or not price.get('recurring'):
        return Check(label, False, f'{variable}={plan.price_id} is a one-time price: subscriptions need a '
                                   'recurring price.')
    if not price.get('active', True):
        return Check(label, False, f'{variable}={plan.price_id} is archived in Stripe: use an active price.')
    return Check(label, True, f'{plan.price_id}, recurring every {price["recurring"].get("interval", "month")}')
