"""What the admin page lists and does: accounts, jobs across users, webhook events."""
from dataclasses import dataclass

from models import Agent, JobEvent, ProvisioningJob, User, WebhookEvent, write_transaction

from .. import provisioning
from ..billing import entitlements, stripe_webhooks
from ..platform import events
from ..platform.errors import DomainError
from ..provisioning import callbacks


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
        in_use = entitlements.agents_used(user)
        rows.append(AccountRow(user, entitlement.plan, entitlement.status, in_use, entitlement.agents_allowed))
    return rows


def recent_webhook_events(limit: int = 100) -> list[WebhookEvent]:
    return list(WebhookEvent.select().order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc()).limit(limit))


def set_account_disabled(*, user_id: int, disabled: bool) -> None:
    """Disabling also closes the account's open pages (they listen for `events.account_changed`)."""
    with write_transaction():
        User.update(is_disabled=disabled).where(User.id == user_id).execute()
    events.account_updated(user_id)


@dataclass
class JobRow:
    job: ProvisioningJob
    agent: Agent
    owner: User
    timeline: list[JobEvent]


def recent_jobs(limit: int = 50) -> list[JobRow]:
    """The newest jobs across all users, each with its agent, owner and timeline."""
    jobs = list(ProvisioningJob.select(ProvisioningJob, Agent, User)
                .join(Agent).join(User, on=(Agent.owner == User.id))
                .order_by(ProvisioningJob.created_at.desc(), ProvisioningJob.id.desc()).limit(limit))
    timelines: dict[int, list[JobEvent]] = {job.id: [] for job in jobs}
    for event in JobEvent.select().where(JobEvent.job.in_(list(timelines))).order_by(JobEvent.time, JobEvent.id):
        timelines[event.job_id].append(event)
    return [JobRow(job, job.agent, job.agent.owner, timelines[job.id]) for job in jobs]


def retry_agent(agent_id: int) -> ProvisioningJob:
    """Retry on the owner's behalf: the same rules (and the same gate) as the owner's own Retry."""
    agent = Agent.get_by_id(agent_id)
    return provisioning.retry(owner=agent.owner, agent_id=agent.id)


def cancel_agent_job(agent_id: int) -> ProvisioningJob:
    agent = Agent.get_by_id(agent_id)
    return provisioning.cancel(owner=agent.owner, agent_id=agent.id)


def reprocess_event(source: str, event_id: str) -> str | None:
    """Run a stored webhook event again, whichever sender it came from."""
    if source == stripe_webhooks.SOURCE:
        return stripe_webhooks.reprocess(event_id)
    return callbacks.reprocess_github_event(event_id)
