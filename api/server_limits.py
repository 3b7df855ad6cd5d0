"""Limits on the HTTP server itself: how large a request's headers may be and how long reading them may take.

uvicorn's httptools parser accepts headers of any size and waits forever for a request whose headers never end
(one byte a minute keeps a connection, a task and its buffers alive). This protocol answers 431 once the headers of
one request pass `MAX_HEADER_BYTES`, and closes a connection whose request headers are not complete within the
header timeout, whether it is new or kept alive. Bodies are bounded elsewhere (`request_limits.BodySizeLimit`).
"""
import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 64 * 1024
"""Request line and headers together; browsers send a few KiB, Caddy refuses more than 1 MiB by default."""
HEADER_END = b'\r\n\r\n'
TOO_LARGE = json.dumps({'error': {'code': 'HEADERS_TOO_LARGE', 'message': 'The request headers are larger than '
                                                                           f'{MAX_HEADER_BYTES // 1024} KiB.'}})


def response(status: str, body: str) -> bytes:
    return (f'HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n'
            f'connection: close\r\n\r\n{body}').encode()


class HeaderLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a bound on header size and on the time it takes to receive them."""

    header_timeout_seconds = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._start_reading_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_reading_headers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_timer is not None and self._headers_too_large(data):
            self._stop_reading_headers()
            self.logger.warning('refused a request whose headers are larger than %d bytes', MAX_HEADER_BYTES)
            self.transport.write(response('431 Request Header Fields Too Large', TOO_LARGE))
            self.transport.close()
            return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # the next request on a kept-alive connection
            self._start_reading_headers()

    def on_headers_complete(self) -> None:
        self._stop_reading_headers()
        super().on_headers_complete()

    def _start_reading_headers(self) -> None:
        self._header_bytes, self._tail = 0, b''
        self._header_timer = self.loop.call_later(self.header_timeout_seconds, self._headers_too_slow)

    def _stop_reading_headers(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_large(self, data: bytes) -> bool:
        """More than the limit arrived before the blank line that ends the headers (body bytes may follow it)."""
        allowed = MAX_HEADER_BYTES - self._header_bytes
        ended = HEADER_END in self._tail + data[:max(allowed, 0) + len(HEADER_END)]
        self._header_bytes += len(data)
        self._tail = (self._tail + data)[-len(HEADER_END) + 1:]
        return len(data) > allowed and not ended

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.logger.warning('closed a connection whose request headers took longer than %.0f s',
                                self.header_timeout_seconds)
            self.transport.close()


def protocol(*, header_timeout_seconds: float) -> type[HeaderLimitedProtocol]:
    """The protocol class to pass to uvicorn as `http=`, with the configured header timeout."""
    return type('HeaderLimitedProtocol', (HeaderLimitedProtocol,), {'header_timeout_seconds': header_timeout_seconds})
