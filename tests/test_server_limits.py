"""The server itself bounds what a request's headers may cost: their size (431) and the time to send them."""
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from api.server_limits import MAX_HEADER_BYTES
from tests.live_server import live_server  # noqa: F401

HEADER_TIMEOUT = 1.0
WAIT_FOR_THE_SERVER = 30.0
"""How long the test waits for the server to act; the server's own timeout is far shorter."""


@pytest.fixture
def server(isolated_environment, monkeypatch) -> None:  # noqa: ARG001  (orders the env first)
    monkeypatch.setenv('HEADER_TIMEOUT_SECONDS', str(HEADER_TIMEOUT))


def connect(base_url: str) -> socket.socket:
    address = urlsplit(base_url)
    connection = socket.create_connection((address.hostname, address.port), timeout=WAIT_FOR_THE_SERVER)
    return connection


def read_until_closed(connection: socket.socket) -> bytes:
    received = b''
    while chunk := connection.recv(65536):
        received += chunk
    return received


def test_headers_over_the_limit_answer_431(server, live_server: str):
    with connect(live_server) as connection:
        connection.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * (MAX_HEADER_BYTES + 1))
        answer = read_until_closed(connection)
    assert answer.startswith(b'HTTP/1.1 431 ')
    assert b'HEADERS_TOO_LARGE' in answer


def test_a_32_mib_header_is_refused_before_it_is_read(server, live_server: str):
    with connect(live_server) as connection:
        connection.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ')
        with pytest.raises(OSError):  # the server answers and closes while the rest is still being sent
            for _ in range(32 * 16):
                connection.sendall(b'a' * 65536)
            connection.sendall(b'\r\n\r\n')
            assert read_until_closed(connection).startswith(b'HTTP/1.1 431 ')
            raise AssertionError('the server read a 32 MiB header')


def test_headers_just_under_the_limit_are_read(server, live_server: str):
    head = b'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: '
    filler = MAX_HEADER_BYTES - len(head) - 4
    with connect(live_server) as connection:
        connection.sendall(head + b'a' * filler + b'\r\n\r\n')
        assert read_until_closed(connection).startswith(b'HTTP/1.1 200 ')


def test_a_body_after_the_headers_does_not_count_against_the_header_limit(server, live_server: str):
    body = b'{}' + b' ' * (200 * 1024)
    response = httpx.post(f'{live_server}/api/auth/token', content=body, timeout=WAIT_FOR_THE_SERVER)
    assert response.status_code != 431


def test_headers_that_never_end_are_cut_off(server, live_server: str):
    with connect(live_server) as connection:
        connection.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\n')  # and then nothing: a slow-loris client
        assert read_until_closed(connection) == b''  # closed by the server, well before the test gives up


def test_a_kept_alive_connection_that_starts_a_request_and_stalls_is_cut_off(server, live_server: str):
    with connect(live_server) as connection:
        connection.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
        first = connection.recv(65536)
        assert first.startswith(b'HTTP/1.1 200 ')
        connection.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\n')
        assert b'HTTP/1.1' not in read_until_closed(connection)


def test_the_caddy_recipe_bounds_header_size_and_read_time():
    from tests.live_server import REPO_ROOT
    caddyfile = (REPO_ROOT / 'deploy' / 'caddy' / 'Caddyfile').read_text()
    assert 'max_header_size 64KB' in caddyfile
    assert 'read_header 10s' in caddyfile
