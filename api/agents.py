"""JSON API for agents (spec §4): thin routes that call one service each and shape the answer."""
from datetime import datetime

from fastapi import APIRouter, Header, Request
from nicegui import run

from models import Agent
from services import agents, provisioning

from .auth import CurrentUser
from .bodies import read_json

router = APIRouter(prefix='/api/agents', tags=['agents'])


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec='seconds') + 'Z'


def agent_to_json(agent: Agent) -> dict:
    return {'id': agent.id, 'name': agent.name, 'description': agent.description, 'model': agent.model,
            'system_prompt': agent.system_prompt, 'region': agent.region, 'size': agent.size,
            'status': agent.status, 'ip_address': agent.ip_address, 'job': None,
            'created_at': iso(agent.created_at), 'updated_at': iso(agent.updated_at)}


@router.post('', status_code=201)
async def create_agent(user: CurrentUser, request: Request) -> dict:
    body = await read_json(request)
    return agent_to_json(await run.io_bound(agents.create_agent, owner=user, data=body))


@router.get('')
async def list_agents(user: CurrentUser) -> dict:
    return {'agents': [agent_to_json(a) for a in await run.io_bound(agents.list_agents, owner=user)]}


@router.get('/{agent_id}')
async def get_agent(user: CurrentUser, agent_id: int) -> dict:
    return agent_to_json(await run.io_bound(agents.get_agent, owner=user, agent_id=agent_id))


@router.patch('/{agent_id}')
async def update_agent(user: CurrentUser, agent_id: int, request: Request) -> dict:
    body = await read_json(request)
    return agent_to_json(await run.io_bound(agents.update_agent, owner=user, agent_id=agent_id, data=body))


@router.delete('/{agent_id}', status_code=202)
async def delete_agent(user: CurrentUser, agent_id: int) -> dict:
    return agent_to_json(await run.io_bound(agents.delete_agent, owner=user, agent_id=agent_id))


@router.post('/{agent_id}/deploy', status_code=202)
async def deploy_agent(user: CurrentUser, agent_id: int,
                       idempotency_key: str | None = Header(None, max_length=200)) -> dict:
    job = await run.io_bound(provisioning.request_deploy, owner=user, agent_id=agent_id,
                             idempotency_key=idempotency_key)
    return {'job': job}
