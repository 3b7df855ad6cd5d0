"""Billing: complimentary grants, Stripe Checkout and portal, checkout fulfilment and subscription sync."""
from datetime import datetime

from models import CompGrant, User

from .errors import DomainError
from .plans import find_plan, plans


class BillingError(DomainError):
    pass


def grant_complimentary(*, user: User, plan: str, until: datetime | None = None, granted_by: str) -> CompGrant:
    """Entitle `user` to `plan` without payment (until `until`, or for good), recorded with who granted it."""
    if find_plan(plan) is None or plan not in {p.name for p in plans()}:
        raise BillingError('INVALID_INPUT', f'Unknown plan {plan!r}; choose one of: '
                                            f'{", ".join(p.name for p in plans())}.', field='plan')
    return CompGrant.create(user=user, plan=plan, until=until, granted_by=granted_by)
