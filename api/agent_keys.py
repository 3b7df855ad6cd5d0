"""`/api/agents/{id}/keys`: the customer's API keys to the agent's endpoint (the key itself is shown once)."""

from fastapi import APIRouter, Request, Response
from nicegui import run

from models import User
from services.provisioning import agents
from services.runtime import api_keys

from . import schemas
from .agents import AgentId, iso
from .auth import CurrentUser
from .bodies import read_json

router = APIRouter(prefix='/api/agents', tags=['agent keys'], responses=schemas.ERRORS)


def listed(agent_id: int) -> dict:
    return {'keys': [{'id': key.id, 'name': key.name, 'created_at': iso(key.created_at),
                      'last_used_at': iso(key.last_used_at)} for key in api_keys.listed_keys(agent_id)]}


def owned_agent_id(user: User, agent_id: int) -> int:
    return agents.get_agent(owner=user, agent_id=agent_id).id


@router.post('/{agent_id}/keys', status_code=201, response_model=schemas.CreatedKey,
             openapi_extra=schemas.body(schemas.KeyRequest))
async def create_key(user: CurrentUser, agent_id: AgentId, request: Request) -> dict:
    body = await read_json(request)
    await run.io_bound(owned_agent_id, user, agent_id)
    key = await run.io_bound(api_keys.create_key, agent_id, body.get('name'))
    return {'id': key.id, 'name': key.name, 'key': key.key, 'created_at': iso(key.created_at)}


@router.get('/{agent_id}/keys', response_model=schemas.KeyList)
async def list_keys(user: CurrentUser, agent_id: AgentId) -> dict:
    await run.io_bound(owned_agent_id, user, agent_id)
    return await run.io_bound(listed, agent_id)


@router.delete('/{agent_id}/keys/{key_id}', status_code=204, response_class=Response)
async def revoke_key(user: CurrentUser, agent_id: AgentId, key_id: AgentId) -> Response:
    await run.io_bound(owned_agent_id, user, agent_id)
    await run.io_bound(api_keys.revoke_key, agent_id, key_id)
    return Response(status_code=204)
