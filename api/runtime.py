"""The control plane agents' runtimes call, with `Authorization: Bearer <runtime token>`: the config long poll, the
heartbeat and the log lines."""
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from nicegui import run

from models import MAX_ID
from services.runtime import config, heartbeats, log_lines, tokens

from . import fast_lane, schemas
from .bodies import read_json

router = APIRouter(prefix='/api/runtime', tags=['runtime'], responses=schemas.ERRORS)


@router.get('/config', response_model=schemas.RuntimeConfig, responses={204: {'description': 'no newer revision came'}})
async def runtime_config(request: Request, authorization: Annotated[str | None, Header()] = None,
                         after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None) -> object:
    """The agent's config; with `after=N`, waits up to 25 s for a newer revision (204 when none came)."""
    agent_id = await run.io_bound(tokens.agent_id_for, authorization)
    config.check_channel(request.url.scheme, request.client.host if request.client else None)
    answer = await config.newer_config(agent_id, after)
    return Response(status_code=204) if answer is None else answer


@router.post('/heartbeat', response_model=schemas.HeartbeatAnswer,
             openapi_extra=schemas.body(schemas.HeartbeatRequest))
@fast_lane.direct('POST', '/api/runtime/heartbeat')
async def runtime_heartbeat(request: Request) -> JSONResponse:
    """A runtime's heartbeat; every agent sends one every few seconds, so it takes the direct lane."""
    body = await read_json(request)
    beat = heartbeats.parse_heartbeat(body)
    revision = await heartbeats.group_commit.submit((request.headers.get('authorization'), beat))
    return JSONResponse({'revision': revision})


@router.post('/logs', response_model=schemas.LogLinesAnswer, openapi_extra=schemas.body(schemas.LogLinesRequest))
@fast_lane.direct('POST', '/api/runtime/logs')
async def runtime_logs(request: Request) -> JSONResponse:
    """The runtime's newest log lines (numbered per boot, so a batch sent twice is kept once); every agent sends
    them, so they take the direct lane."""
    agent_id = await run.io_bound(tokens.agent_id_for, request.headers.get('authorization'))
    body = await read_json(request)
    return JSONResponse({'added': await run.io_bound(log_lines.record_log_lines, agent_id, body)})
