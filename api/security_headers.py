"""The usual security headers on every response, pages and API alike.

NiceGUI renders with inline scripts and compiles Vue templates in the browser (`new Function`), so the policy allows
'unsafe-inline' and 'unsafe-eval' for scripts; everything else is limited to this origin, and no other site may
frame the app. HSTS only when PUBLIC_URL is https: over plain http a browser ignores it anyway, and on localhost it
would pin every other local app on that host to https.
"""
from services.platform.settings import get_settings

from .asgi import HttpMiddleware

CONTENT_SECURITY_POLICY = '; '.join((
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
ALWAYS = (
    (b'content-security-policy', CONTENT_SECURITY_POLICY.encode()),
    (b'x-content-type-options', b'nosniff'),
    (b'referrer-policy', b'strict-origin-when-cross-origin'),
    (b'x-frame-options', b'DENY'),
)
HSTS = (b'strict-transport-security', b'max-age=31536000; includeSubDomains')


def security_headers() -> tuple[tuple[bytes, bytes], ...]:
    """The headers to add; read per request because tests (and a restart) may change PUBLIC_URL."""
    return (*ALWAYS, HSTS) if get_settings().public_url.startswith('https://') else ALWAYS


class SecurityHeaders(HttpMiddleware):
    """Pure ASGI middleware: adds the headers to every HTTP response, replacing any a route set itself."""

    async def handle(self, scope, receive, send) -> None:
        added = security_headers()
        names = {name for name, _ in added}

        async def send_with_headers(message) -> None:
            if message['type'] == 'http.response.start':
                kept = [(name, value) for name, value in message.get('headers', []) if name.lower() not in names]
                message = {**message, 'headers': [*kept, *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
