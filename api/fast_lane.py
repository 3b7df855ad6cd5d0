"""Machine requests skip NiceGUI's browser middleware; the hottest skip the framework's routing too.

NiceGUI gives every request without a session cookie a new session and an in-memory user storage that is never
released, and runs several BaseHTTPMiddleware layers. Stripe, GitHub, the workflow's callbacks, health checks,
metrics scrapers and API clients with a token have no session and need none: for them that cost is a third of the
throughput and a memory leak per request. The fast lane sends them straight to the same routes through only the
middleware they need (the body-size limit), keeping NiceGUI's exception handling.

The few endpoints a fleet calls all the time (agents' heartbeats every few seconds each) are also `direct`: looked up
by method and path in one dict and called with a Starlette request, behind the same machine middleware, instead of
walking every page route and included router and FastAPI's parameter machinery. They stay declared as FastAPI routes
too, for /openapi.json and for browsers; a domain error becomes the API's error answer here as everywhere.
"""
import logging
import types
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.platform.errors import DomainError

from .errors import error_response

log = logging.getLogger(__name__)

MACHINE_PATHS = ('/healthz', '/metrics', '/api/provisioning/callback', '/api/provisioning/bootstrap')
MACHINE_PREFIXES = ('/api/webhooks/',)


def is_machine_request(scope: dict) -> bool:
    """No browser session, and a path machines call (or an API call with a token)."""
    headers = dict(scope['headers'])
    if b'session=' in headers.get(b'cookie', b''):
        return False  # a browser: keep its session (an admin's /healthz shows details)
    path = scope['path']
    if path in MACHINE_PATHS or path.startswith(MACHINE_PREFIXES):
        return True
    return path.startswith('/api/') and b'authorization' in headers


Endpoint = Callable[[Request], Awaitable[Response]]
DIRECT: dict[tuple[str, str], Endpoint] = {}


def direct(method: str, path: str) -> Callable[[Endpoint], Endpoint]:
    """Register `endpoint` (a Starlette request in, a response out) for machine requests to exactly this path."""
    def register(endpoint: Endpoint) -> Endpoint:
        DIRECT[(method, path)] = endpoint
        return endpoint
    return register


async def call_direct(scope, receive, send) -> None:
    request = Request(scope, receive)
    try:
        response = await DIRECT[(scope['method'], scope['path'])](request)
    except DomainError as error:
        response = error_response(error)
    except Exception:
        log.exception('%s %s failed', scope['method'], scope['path'])
        response = JSONResponse(DomainError('INTERNAL_ERROR', 'AgentHost failed unexpectedly; see its log.')
                                .to_dict(), status_code=500)
    await response(scope, receive, send)


class FastLane:
    def __init__(self, browser_stack, machine_stack, direct_stack) -> None:
        self.browser_stack = browser_stack
        self.machine_stack = machine_stack
        self.direct_stack = direct_stack

    async def __call__(self, scope, receive, send) -> None:
        if scope['type'] == 'http' and is_machine_request(scope):
            if (scope['method'], scope['path']) in DIRECT:
                await self.direct_stack(scope, receive, send)
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
        direct_stack: Any = call_direct
        for middleware in reversed([m for m in everything if m.cls in machine_middleware]):
            direct_stack = middleware.cls(direct_stack, *middleware.args, **middleware.kwargs)
        return FastLane(browser_stack, machine_stack, direct_stack)

    app.build_middleware_stack = types.MethodType(build_with_fast_lane, app)  # type: ignore[method-assign]
