"""The one base for AgentHost's pure ASGI middleware (not BaseHTTPMiddleware: contextvars set here must reach the
task that runs the route, and streamed bodies must pass through untouched)."""
from typing import Any


class HttpMiddleware:
    """Hands HTTP requests to `handle`; websockets and lifespan pass straight through."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send) -> None:
        raise NotImplementedError
