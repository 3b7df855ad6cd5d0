"""Refuse request bodies over 1 MiB before they are read."""
import json

from .asgi import HttpMiddleware

MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE = json.dumps({'error': {'code': 'PAYLOAD_TOO_LARGE',
                                  'message': 'The request body is larger than 1 MiB.'}}).encode()


class BodySizeLimit(HttpMiddleware):
    """ASGI middleware: checks Content-Length up front and counts streamed (chunked) bodies as they arrive."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope, receive, send) -> None:
        if declares_too_large(dict(scope['headers']).get(b'content-length'), self.max_bytes):
            await refuse(send)
            return
        received = 0
        response_started = False

        async def counting_receive():
            nonlocal received
            message = await receive()
            received += len(message.get('body', b''))
            if received > self.max_bytes:
                raise _BodyTooLarge
            return message

        async def tracking_send(message):
            nonlocal response_started
            response_started = response_started or message['type'] == 'http.response.start'
            await send(message)

        refused = False
        try:
            await self.app(scope, counting_receive, tracking_send)
        except* _BodyTooLarge:  # a group when it passes through a BaseHTTPMiddleware's task group
            refused = True
        if refused and not response_started:
            await refuse(send)


def declares_too_large(content_length: bytes | None, max_bytes: int = MAX_BODY_BYTES) -> bool:
    """A Content-Length over the limit, or one that is not a number."""
    return content_length is not None and (not content_length.isdigit() or int(content_length) > max_bytes)


async def refuse(send) -> None:
    await send({'type': 'http.response.start', 'status': 413,
                'headers': [(b'content-type', b'application/json'), (b'connection', b'close')]})
    await send({'type': 'http.response.body', 'body': TOO_LARGE})


class _BodyTooLarge(Exception):
    pass
