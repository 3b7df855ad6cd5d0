"""The control plane agents' runtimes call, with `Authorization: Bearer <runtime token>`: the config long poll, the
heartbeat and the log lines."""
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from nicegui import run

from models import MAX_ID
from services.platform.inputs import parse_json_object
from services.runtime import config, heartbeats, log_lines, tokens

from . import fast_lane, schemas

router = APIRouter(prefix='/api/runtime', tags=['runtime'], responses=schemas.ERRORS)


@router.get('/config', response_model=schemas.RuntimeConfig, responses={204: {'description': 'no newer revision came'}})
async def runtime_config(request: Request, authorization: Annotated[str | None, Header()] = None,
                         after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None) -> object:
    """The agent's config; with `after=N`, waits up to 25 s for a newer revision (204 when none came)."""
    agent_id = await run.io_bound(tokens.agent_id_for, authorization)
    config.check_channel(request.url.scheme, request.client.host if request.client else None)
    answer = await config.newer_config(agent_id, after)
    return Response(status_code=204) if answer is None else answer


@fast_lane.direct(router, 'POST', '/heartbeat', response_model=schemas.HeartbeatAnswer,
                  openapi_extra=schemas.body(schemas.HeartbeatRequest))
async def runtime_heartbeat(call: fast_lane.DirectCall) -> dict:
    """A runtime's heartbeat; every agent sends one every few seconds, so it takes the direct lane."""
    beat = heartbeats.parse_heartbeat(parse_json_object(call.body))
    return {'revision': await heartbeats.group_commit.submit((call.headers.get('authorization'), beat))}


@fast_lane.direct(router, 'POST', '/logs', response_model=schemas.LogLinesAnswer,
                  openapi_extra=schemas.body(schemas.LogLinesRequest))
async def runtime_logs(call: fast_lane.DirectCall) -> dict:
    """The runtime's newest log lines (numbered per boot, so a batch sent twice is kept once); every agent sends
    them, so they take the direct lane."""
    agent_id = await run.io_bound(tokens.agent_id_for, call.headers.get('authorization'))
    body = parse_json_object(call.body)
    return {'added': await run.io_bound(log_lines.record_log_lines, agent_id, body)}
