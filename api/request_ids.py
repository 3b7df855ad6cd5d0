"""Request ids: the caller's `X-Request-ID` when it is sane, a new one otherwise.

The id is answered in the response header and tagged on every log line written while the request runs (through the
contextvar in `services/platform/logs.py`), and one access line per request records method, path, status and duration —
the path only: query strings may carry session ids and are left out.
"""
import logging
import re
import time
import uuid

from services.platform.logs import request_id

from .asgi import HttpMiddleware

HEADER = b'x-request-id'
ACCEPTED = re.compile(r'^[A-Za-z0-9._:-]{1,128}$')
"""A proxy's or client's id is kept only if it cannot forge log fields or grow without bound."""
QUIET_PREFIXES = ('/_nicegui/', '/static/', '/favicon.ico', '/api/runtime/', '/api/webhooks/stripe')
"""Page assets, socket.io polling and agents' runtimes (a heartbeat, a log batch and a long poll per agent every few
seconds) would drown the interesting lines: they are logged at debug level, unless they fail. So is a Stripe
delivery that was stored: its own line ('stripe event received') carries the request id and says what it was."""

log = logging.getLogger('agenthost.http')


def request_id_for(incoming: str) -> str:
    """The caller's id when it is sane, a new one otherwise."""
    return incoming if ACCEPTED.match(incoming) else uuid.uuid4().hex


def log_request(method: str, path: str, status: int, started: float) -> None:
    """The access line: at debug level for the quiet paths that succeeded."""
    quiet = path.startswith(QUIET_PREFIXES) and status < 400
    if log.isEnabledFor(level := logging.DEBUG if quiet else logging.INFO):
        log.log(level, 'request', extra={'method': method, 'path': path, 'status': status,
                                         'duration_ms': round((time.perf_counter() - started) * 1000, 1)})


class RequestIds(HttpMiddleware):
    """ASGI middleware (not BaseHTTPMiddleware: the contextvar must be set in the task that runs the route)."""

    async def handle(self, scope, receive, send) -> None:
        current = request_id_for(dict(scope['headers']).get(HEADER, b'').decode('latin-1'))
        token = request_id.set(current)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message) -> None:
            nonlocal status
            if message['type'] == 'http.response.start':
                status = message['status']
                headers = [(name, value) for name, value in message.get('headers', []) if name.lower() != HEADER]
                message = {**message, 'headers': [*headers, (HEADER, current.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log_request(scope['method'], scope['path'], status, started)
            request_id.reset(token)
