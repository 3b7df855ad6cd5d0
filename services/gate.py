"""The subscription gate: the one place that decides whether a user may deploy one more agent."""
from models import User

from .errors import DomainError
from .settings import get_settings


class GateError(DomainError):
    pass


def billing_is_configured() -> bool:
    settings = get_settings()
    return bool(settings.stripe_secret_key and settings.stripe_price_starter and settings.stripe_price_pro
                and settings.stripe_price_business)


def check_can_deploy(*, user: User) -> None:
    """Raise GateError unless `user` is entitled to one more running agent.

    Entitlements arrive with the billing work; until then nobody is entitled, so nothing provisions unpaid.
    """
    if not billing_is_configured():
        raise GateError('BILLING_NOT_CONFIGURED', 'Billing is not set up yet, so agents cannot be deployed. '
                                                  'The operator must set STRIPE_SECRET_KEY and the '
                                                  'STRIPE_PRICE_* settings.')
    raise GateError('NO_ACTIVE_SUBSCRIPTION', 'Deploying needs an active subscription. Choose a plan in '
                                              'Settings (/settings).')
