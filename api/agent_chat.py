"""`POST /api/agents/{id}/chat`: one answer of the owner's running agent, through its own endpoint."""
from fastapi import APIRouter, Request
from nicegui import run

from services.runtime import chat

from . import schemas
from .agents import AgentId
from .auth import CurrentUser
from .bodies import read_json

router = APIRouter(prefix='/api/agents', tags=['agent chat'], responses=schemas.ERRORS)


@router.post('/{agent_id}/chat', response_model=schemas.ChatAnswer, openapi_extra=schemas.body(schemas.ChatRequest))
async def chat_with_agent(user: CurrentUser, agent_id: AgentId, request: Request) -> dict:
    body = await read_json(request)
    messages = chat.clean_messages(body.get('messages'))
    target = await run.io_bound(chat.target, user, agent_id)
    return await chat.complete(target, messages)
