"""Whether an agent's server may still exist: the one answer for what a removal must delete and what counts
against the plan.

A server may exist from the moment a job may have reached GitHub until a deprovision confirms it is gone. A
`provisioning`, `running`, `stopping` or `deleting` agent says so by its status; a `failed` one only by what it
left behind: a reported server, or a last job whose dispatch may have gone through.
"""
import peewee

from models import FINISHED_JOB_STATUSES, Agent, AgentStatus, ProvisioningJob


def may_have_reached_github(job: ProvisioningJob | None) -> bool:
    """Whether a finished job's work may have started on GitHub (a run is known, or a dispatch was attempted)."""
    return job is not None and (job.run_id is not None or job.attempts > 0)


def last_finished_jobs(agent_ids: list[int]) -> dict[int, ProvisioningJob]:
    """Each agent's newest finished job, in one query."""
    if not agent_ids:
        return {}
    Job = ProvisioningJob
    newest = (Job.select(peewee.fn.MAX(Job.id))
              .where(Job.agent.in_(agent_ids) & Job.status.in_(FINISHED_JOB_STATUSES)).group_by(Job.agent))
    return {job.agent_id: job for job in Job.select().where(Job.id.in_(newest))}


def failed_with_servers(agents: list[Agent]) -> list[Agent]:
    """The `failed` agents among `agents` whose server may still exist, in the order given."""
    failed = [agent for agent in agents if agent.status == AgentStatus.FAILED]
    last = last_finished_jobs([agent.id for agent in failed if not agent.server_id])
    return [agent for agent in failed if agent.server_id or may_have_reached_github(last.get(agent.id))]
