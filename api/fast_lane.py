"""Machine requests skip NiceGUI's browser middleware.

NiceGUI gives every request without a session cookie a new session and an in-memory user storage that is never
released, and runs several BaseHTTPMiddleware layers. Stripe, GitHub, the workflow's callbacks, health checks,
metrics scrapers and API clients with a token have no session and need none: for them that cost is a third of the
throughput and a memory leak per request. The fast lane sends them straight to the same routes through only the
middleware they need (the body-size limit), keeping NiceGUI's exception handling.
"""
import types

from starlette.applications import Starlette

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


class FastLane:
    def __init__(self, browser_stack, machine_stack) -> None:
        self.browser_stack = browser_stack
        self.machine_stack = machine_stack

    async def __call__(self, scope, receive, send) -> None:
        if scope['type'] == 'http' and is_machine_request(scope):
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
