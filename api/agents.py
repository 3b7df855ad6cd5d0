"""JSON API for agents: thin routes that call one service each and shape the answer."""
from datetime import datetime
from typing import Annotated, cast

from fastapi import APIRouter, Header, Path, Request
from nicegui import run

from models import MAX_ID, Agent, JobEvent, ProvisioningJob, User
from services import provisioning
from services.provisioning import agents, failure_reasons
from services.runtime import usage

from . import schemas
from .auth import CurrentUser
from .bodies import read_json

AgentId = Annotated[int, Path(ge=1, le=MAX_ID)]
"""Ids the database can hold; others answer 422 naming `agent_id` instead of overflowing the driver."""

router = APIRouter(prefix='/api/agents', tags=['agents'], responses=schemas.ERRORS)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec='seconds') + 'Z'


def job_to_json(job: ProvisioningJob | None) -> dict | None:
    """The customer's view: a plain reason, no link into the operator's infrastructure (admins see both on /admin)."""
    if job is None:
        return None
    return {'id': job.id, 'kind': job.kind, 'status': job.status, 'attempts': job.attempts,
            'last_error': failure_reasons.job_error(job, details=False) or None, 'run_id': job.run_id,
            'run_url': failure_reasons.run_link(job, details=False),
            'created_at': iso(job.created_at), 'updated_at': iso(job.updated_at)}


LOAD_JOB = object()


def agent_to_json(agent: Agent, job: ProvisioningJob | None | object = LOAD_JOB,
                  this_period: usage.Usage | None = None) -> dict:
    """An agent with its current or last job (pass it when already loaded; else it is read here, off the loop)."""
    job = provisioning.last_job(agent.id) if job is LOAD_JOB else cast(ProvisioningJob | None, job)
    return {'id': agent.id, 'name': agent.name, 'description': agent.description, 'model': agent.model,
            'system_prompt': agent.system_prompt, 'region': agent.region, 'size': agent.size,
            'status': agent.status, 'ip_address': agent.ip_address, 'job': job_to_json(job),
            'endpoint_url': agent.endpoint_url, 'config_revision': agent.config_revision,
            'applied_revision': agent.applied_revision, 'health': agent.health,
            'health_message': agent.health_message, 'last_heartbeat_at': iso(agent.last_heartbeat_at),
            'usage': (this_period or usage.usage_this_period(agent.id)).to_dict(),
            'created_at': iso(agent.created_at), 'updated_at': iso(agent.updated_at)}


def agents_to_json(owner: User) -> list[dict]:
    rows = provisioning.agents_with_jobs(owner=owner)
    used = usage.usage_of_agents([agent.id for agent, _ in rows])
    return [agent_to_json(agent, job, used[agent.id]) for agent, job in rows]


def event_to_json(event: JobEvent) -> dict:
    """The customer's view of a timeline event (see `failure_reasons.event_message`)."""
    return {'time': iso(event.time), 'step': event.step,
            'message': failure_reasons.event_message(event, details=False)}


@router.post('', status_code=201, response_model=schemas.Agent, openapi_extra=schemas.body(schemas.AgentFields))
async def create_agent(user: CurrentUser, request: Request) -> dict:
    body = await read_json(request)
    agent = await run.io_bound(agents.create_agent, owner=user, data=body)
    return await run.io_bound(agent_to_json, agent, None)  # a draft: no job


@router.get('', response_model=schemas.AgentList)
async def list_agents(user: CurrentUser) -> dict:
    return {'agents': await run.io_bound(agents_to_json, user)}


@router.get('/{agent_id}', response_model=schemas.Agent)
async def get_agent(user: CurrentUser, agent_id: AgentId) -> dict:
    agent = await run.io_bound(agents.get_agent, owner=user, agent_id=agent_id)
    return await run.io_bound(agent_to_json, agent)


@router.patch('/{agent_id}', response_model=schemas.Agent, openapi_extra=schemas.body(schemas.AgentFields))
async def update_agent(user: CurrentUser, agent_id: AgentId, request: Request) -> dict:
    body = await read_json(request)
    agent = await run.io_bound(agents.update_agent, owner=user, agent_id=agent_id, data=body)
    return await run.io_bound(agent_to_json, agent)


@router.delete('/{agent_id}', status_code=202, response_model=schemas.Agent)
async def delete_agent(user: CurrentUser, agent_id: AgentId) -> dict:
    agent = await run.io_bound(provisioning.request_delete, owner=user, agent_id=agent_id)
    return await run.io_bound(agent_to_json, agent)


@router.post('/{agent_id}/deploy', status_code=202, response_model=schemas.JobAnswer)
async def deploy_agent(user: CurrentUser, agent_id: AgentId,
                       idempotency_key: str | None = Header(None, max_length=200)) -> dict:
    job = await run.io_bound(provisioning.request_deploy, owner=user, agent_id=agent_id,
                             idempotency_key=idempotency_key)
    return {'job': job_to_json(job)}


@router.post('/{agent_id}/stop', status_code=202, response_model=schemas.JobAnswer)
async def stop_agent(user: CurrentUser, agent_id: AgentId) -> dict:
    return {'job': job_to_json(await run.io_bound(provisioning.stop_agent, owner=user, agent_id=agent_id))}


@router.post('/{agent_id}/retry', status_code=202, response_model=schemas.JobAnswer)
async def retry_agent(user: CurrentUser, agent_id: AgentId) -> dict:
    return {'job': job_to_json(await run.io_bound(provisioning.retry, owner=user, agent_id=agent_id))}


@router.post('/{agent_id}/cancel', status_code=202, response_model=schemas.JobAnswer)
async def cancel_job(user: CurrentUser, agent_id: AgentId) -> dict:
    return {'job': job_to_json(await run.io_bound(provisioning.cancel, owner=user, agent_id=agent_id))}


@router.get('/{agent_id}/events', response_model=schemas.Timeline)
async def agent_events(user: CurrentUser, agent_id: AgentId) -> dict:
    timeline = await run.io_bound(provisioning.timeline, owner=user, agent_id=agent_id)
    return {'events': [event_to_json(event) for event in timeline]}
