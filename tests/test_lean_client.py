"""The benchmark's lean load generator: kept-alive connections, answers read by their length, and a request sent once
more when the server had closed the connection under it. Against real sockets on this machine."""
import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bench.lean_client import LeanClient

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def answer_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int = 200) -> bool:
    """Reads one request and answers it with its own body; False once the client went away."""
    try:
        head = await reader.readuntil(b'\r\n\r\n')
    except asyncio.IncompleteReadError:
        return False
    length = next(int(line.split(b':')[1]) for line in head.split(b'\r\n')
                  if line.lower().startswith(b'content-length'))
    body = await reader.readexactly(length)
    writer.write(b'HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % (status, length)
                 + body)
    await writer.drain()
    return True


async def keeping_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await answer_one(reader, writer):
        pass
    writer.close()


async def closing_after_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Closes without saying so (no `Connection: close`), as a server whose keep-alive timed out does."""
    await answer_one(reader, writer)
    writer.close()


async def refusing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await answer_one(reader, writer, status=503)
    writer.close()


async def client_of(serve: Serve) -> tuple[LeanClient, asyncio.Server]:
    server = await asyncio.start_server(serve, '127.0.0.1', 0)
    return LeanClient(f'http://127.0.0.1:{server.sockets[0].getsockname()[1]}'), server


async def test_requests_share_one_kept_alive_connection_and_get_their_answers():
    client, server = await client_of(keeping_alive)
    async with server:
        answers = [await client.send(client.request('/x', b'{"n": %d}' % n, {})) for n in range(3)]
        await client.close()
    assert answers == [(200, b'{"n": %d}' % n) for n in range(3)]
    assert len(client.opened) == 1


async def test_a_request_on_a_connection_the_server_closed_is_sent_once_more_on_a_new_one():
    client, server = await client_of(closing_after_each)
    async with server:
        await client.send(client.request('/x', b'1', {}))
        answer = await client.send(client.request('/x', b'2', {}))
        await client.close()
    assert answer == (200, b'2')
    assert client.resent == 1


async def test_an_answer_other_than_200_fails_the_row_with_the_status():
    client, server = await client_of(refusing)
    async with server:
        with pytest.raises(RuntimeError, match='503'):
            await client.send_expecting_ok(client.request('/x', b'{}', {}))
        await client.close()
