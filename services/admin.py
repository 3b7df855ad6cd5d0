"""What the admin page lists: accounts with their billing, and recent webhook events."""
from dataclasses import dataclass

from models import COUNTED_STATUSES, Agent, User, WebhookEvent

from . import entitlements
from .errors import DomainError


@dataclass
class AccountRow:
    user: User
    plan: str | None
    status: str | None
    agents_in_use: int
    agents_allowed: int


def require_admin(user: User) -> None:
    """Refuse non-admins as if the page did not exist."""
    if not user.is_admin:
        raise DomainError('NOT_FOUND', 'There is no such page.')


def accounts_overview(limit: int = 200) -> list[AccountRow]:
    rows = []
    for user in User.select().order_by(User.created_at.desc()).limit(limit):
        entitlement = entitlements.entitlement_for(user)
        in_use = Agent.select().where((Agent.owner == user) & Agent.status.in_(COUNTED_STATUSES)).count()
        rows.append(AccountRow(user, entitlement.plan, entitlement.status, in_use, entitlement.agents_allowed))
    return rows


def recent_webhook_events(limit: int = 100) -> list[WebhookEvent]:
    return list(WebhookEvent.select().order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc()).limit(limit))


def set_account_disabled(*, user_id: int, disabled: bool) -> None:
    User.update(is_disabled=disabled).where(User.id == user_id).execute()
