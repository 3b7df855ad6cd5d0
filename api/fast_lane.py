"""Machine requests skip NiceGUI's browser middleware; the hottest skip the framework altogether.

NiceGUI gives every request without a session cookie a new session and an in-memory user storage that is never
released, and runs several BaseHTTPMiddleware layers. Stripe, GitHub, the workflow's callbacks, health checks,
metrics scrapers and API clients with a token have no session and need none: for them that cost is a third of the
throughput and a memory leak per request. The fast lane sends them straight to the same routes through only the
middleware they need (body-size limit, security headers, request ids), keeping NiceGUI's exception handling.

The few endpoints a fleet or a payment provider calls all the time (every agent's heartbeat and log lines, Stripe's
webhooks) are `direct`: a request arrives as a moment's work between long sleeps, and at that rate each layer of
wrapping costs more than all the rest, so a direct endpoint is looked up by method and path in one dict and gets
only the headers and the body — read here within the size limit — and answers a dict, which is sent here with the
request id and the security headers, and its access line written. The same function is also an ordinary FastAPI
route, for /openapi.json and for requests with a browser's session; a domain error becomes the API's error answer
either way.
"""
import json
import logging
import time
import types
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.applications import Starlette

from services.platform.errors import DomainError
from services.platform.logs import request_id

from .errors import error_response
from .request_ids import log_request, request_id_for
from .request_limits import MAX_BODY_BYTES, TOO_LARGE, declares_too_large
from .security_headers import security_headers

log = logging.getLogger(__name__)

MACHINE_PATHS = ('/healthz', '/metrics', '/api/provisioning/callback', '/api/provisioning/bootstrap')
MACHINE_PREFIXES = ('/api/webhooks/',)
JSON = (b'content-type', b'application/json')


def is_machine_request(scope: dict) -> bool:
    """No browser session, and a path machines call (or an API call with a token)."""
    headers = dict(scope['headers'])
    if b'session=' in headers.get(b'cookie', b''):
        return False  # a browser: keep its session (an admin's /healthz shows details)
    path = scope['path']
    if path in MACHINE_PATHS or path.startswith(MACHINE_PREFIXES):
        return True
    return path.startswith('/api/') and b'authorization' in headers


@dataclass(frozen=True)
class DirectCall:
    """What a direct endpoint reads: the request's headers (names in lower case) and its whole body."""
    headers: Mapping[str, str]
    body: bytes


DirectEndpoint = Callable[[DirectCall], Awaitable[dict]]
DIRECT: dict[tuple[str, str], DirectEndpoint] = {}


def direct(router: APIRouter, method: str, path: str, **route: Any) -> Callable[[DirectEndpoint], DirectEndpoint]:
    """Register `endpoint` for machine requests to exactly this path, and as `router`'s route for everything else
    (`route` holds FastAPI's options: the response model, the documented body)."""
    def register(endpoint: DirectEndpoint) -> DirectEndpoint:
        DIRECT[(method, router.prefix + path)] = endpoint

        async def through_the_framework(request: Request) -> JSONResponse:
            return JSONResponse(await endpoint(DirectCall(request.headers, await request.body())))

        through_the_framework.__name__, through_the_framework.__doc__ = endpoint.__name__, endpoint.__doc__
        router.add_api_route(path, through_the_framework, methods=[method], **route)
        return endpoint
    return register


async def call_direct(scope, receive, send) -> None:
    started = time.perf_counter()
    headers = {name.decode('latin-1'): value.decode('latin-1') for name, value in scope['headers']}
    current = request_id_for(headers.get('x-request-id', ''))
    token = request_id.set(current)
    status = 500
    try:
        status, body, extra = await answer_directly(DIRECT[(scope['method'], scope['path'])], headers, receive)
        await send({'type': 'http.response.start', 'status': status,
                    'headers': [JSON, (b'content-length', str(len(body)).encode()),
                                (b'x-request-id', current.encode()), *extra, *security_headers()]})
        await send({'type': 'http.response.body', 'body': body})
    finally:
        log_request(scope['method'], scope['path'], status, started)
        request_id.reset(token)


async def answer_directly(endpoint: DirectEndpoint, headers: Mapping[str, str],
                          receive) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """(status, JSON body, extra headers) of the endpoint's answer, or of the error it raised."""
    length = headers.get('content-length')
    body = None if declares_too_large(length.encode() if length is not None else None) else await read_body(receive)
    if body is None:
        return 413, TOO_LARGE, [(b'connection', b'close')]
    try:
        return 200, json.dumps(await endpoint(DirectCall(headers, body)), separators=(',', ':')).encode(), []
    except DomainError as error:
        response = error_response(error)
    except Exception:
        log.exception('a direct request failed')
        response = error_response(DomainError('INTERNAL_ERROR', 'AgentHost failed unexpectedly; see its log.'))
        response.status_code = 500
    extra = [(name, value) for name, value in response.raw_headers if name == b'retry-after']
    return response.status_code, bytes(response.body), extra


async def read_body(receive) -> bytes | None:
    """The whole body, or None once it passes the size limit (a chunked body declares no length)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get('body', b'')
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get('more_body'):
            return b''.join(chunks)


class FastLane:
    def __init__(self, browser_stack, machine_stack) -> None:
        self.browser_stack = browser_stack
        self.machine_stack = machine_stack

    async def __call__(self, scope, receive, send) -> None:
        if scope['type'] == 'http' and is_machine_request(scope):
            if (scope['method'], scope['path']) in DIRECT:
                await call_direct(scope, receive, send)
            else:
                await self.machine_stack(scope, receive, send)
        else:
            await self.browser_stack(scope, receive, send)


def install(app: Starlette, *, machine_middleware: tuple[type, ...]) -> None:
    """Make `app` build both stacks when it first starts; idempotent, as main.py runs again in every test."""
    build = type(app).build_middleware_stack

    def build_with_fast_lane(self: Starlette):
        browser_stack = build(self)
        everything = self.user_middleware
        self.user_middleware = [m for m in everything if m.cls in machine_middleware]
        try:
            machine_stack = build(self)
        finally:
            self.user_middleware = everything
        return FastLane(browser_stack, machine_stack)

    app.build_middleware_stack = types.MethodType(build_with_fast_lane, app)  # type: ignore[method-assign]
