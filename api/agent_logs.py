"""`/api/agents/{id}/logs`: the newest lines the agent's runtime logged (redacted), for owners who script."""
from fastapi import APIRouter
from nicegui import run

from models import User
from services.provisioning import agents
from services.runtime import log_lines

from . import schemas
from .agents import AgentId, iso
from .auth import CurrentUser

router = APIRouter(prefix='/api/agents', tags=['agent logs'], responses=schemas.ERRORS)


def owned_agent_log(user: User, agent_id: int) -> dict:
    agent = agents.get_agent(owner=user, agent_id=agent_id)
    return {'lines': [{'at': iso(line.at), 'level': line.level, 'message': line.message, 'boot_id': line.boot_id}
                      for line in log_lines.recent_lines(agent.id)]}


@router.get('/{agent_id}/logs', response_model=schemas.AgentLog)
async def agent_log(user: CurrentUser, agent_id: AgentId) -> dict:
    return await run.io_bound(owned_agent_log, user, agent_id)
