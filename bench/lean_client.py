"""A load generator that costs the server's machine almost nothing: HTTP/1.1 over kept-alive asyncio streams, each
request written as prepared bytes, each answer read by its Content-Length.

Stripe sends its webhooks from its own machines, so an ingest row should spend this machine's two cores on the
server, not on the client. httpx parses every answer in Python (h11) and costs about as much CPU per request as the
server it measures, and more for an answer with more headers: with it the row measured the client as much as the
server. Both the app and the bare baseline are measured with this client.
"""
import asyncio
from urllib.parse import urlsplit


class LeanClient:
    """POSTs over at most `connections` kept-alive connections to one server; opened as needed, reused after."""

    def __init__(self, url: str, connections: int = 100) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or '127.0.0.1', parts.port or 80
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(connections)
        self.opened: list[asyncio.StreamWriter] = []
        self.resent = 0
        """Requests sent once more because the server had closed the kept-alive connection they went out on."""

    def request(self, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        """The request's bytes, prepared before the clock starts."""
        lines = [f'POST {path} HTTP/1.1', f'Host: {self.host}:{self.port}', f'Content-Length: {len(body)}',
                 *(f'{name}: {value}' for name, value in headers.items())]
        return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """(status, body) of the answer to a prepared request; sent once more on a fresh connection when a kept-alive
        one turns out closed, so only for idempotent requests (a webhook is stored by its id)."""
        async with self.slots:
            if self.idle:
                try:
                    return await self.exchange(*self.idle.pop(), request)
                except (asyncio.IncompleteReadError, ConnectionError):
                    self.resent += 1
            return await self.exchange(*await self.connect(), request)

    async def send_expecting_ok(self, request: bytes) -> None:
        """Fails the row loudly on any answer but 200."""
        status, body = await self.send(request)
        if status != 200:
            raise RuntimeError(f'the server answered {status}: {body[:200]!r}')

    async def exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       request: bytes) -> tuple[int, bytes]:
        try:
            writer.write(request)
            status, body, keep = await self.read_answer(reader)
        except BaseException:
            writer.close()
            raise
        if keep:
            self.idle.append((reader, writer))
        else:
            writer.close()
        return status, body

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.opened.append(writer)
        return reader, writer

    @staticmethod
    async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        head = await reader.readuntil(b'\r\n\r\n')
        status_line, *header_lines = head.decode('latin-1').split('\r\n')
        headers = dict(line.lower().split(': ', 1) for line in header_lines if ': ' in line)
        body = await reader.readexactly(int(headers.get('content-length', '0')))
        return int(status_line.split(' ', 2)[1]), body, headers.get('connection') != 'close'

    async def close(self) -> None:
        for writer in self.opened:
            writer.close()
        await asyncio.gather(*(writer.wait_closed() for writer in self.opened), return_exceptions=True)
