"""Nothing from outside can break a log line or flood the log: control characters are escaped in every field, and
what pages send through NiceGUI's socket `log` event is truncated and rate-limited."""
import io
import json
import logging
import unicodedata

import pytest
from nicegui.nicegui import sio
from nicegui.testing import User

from services.platform import logs
from services.platform.settings import Settings

HOSTILE = 'a\x00b\x1b[31mc\rd\ne\x85f\u2028g\ud800h\x7f'


def control_characters(text: str) -> list[str]:
    return [char for char in text if unicodedata.category(char) in ('Cc', 'Cs', 'Zl', 'Zp')]


@pytest.fixture
def written() -> io.StringIO:
    return io.StringIO()


def log_hostile_record(log_format: str, stream: io.StringIO) -> None:
    handler = logs.configure_logging(Settings(log_format=log_format), stream=stream)
    try:
        try:
            raise ValueError(HOSTILE)
        except ValueError:
            logging.getLogger(f'tests.{HOSTILE}').error('message %s', HOSTILE, exc_info=True,
                                                        extra={'field': HOSTILE, 'count': 3})
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.mark.parametrize('log_format', ['text', 'json'])
def test_control_characters_in_every_field_leave_escaped_on_one_line(log_format: str, written: io.StringIO):
    log_hostile_record(log_format, written)
    text = written.getvalue()
    assert text.endswith('\n')
    assert control_characters(text[:-1]) == []


def test_escaped_text_lines_still_show_what_was_sent():
    stream = io.StringIO()
    log_hostile_record('text', stream)
    assert r'a\x00b\x1b[31mc\rd\ne\x85f\u2028g\ud800h\x7f' in stream.getvalue()


@pytest.fixture
def browser_lines(monkeypatch) -> list[logging.LogRecord]:
    """What the app logs for pages, with a fresh rate limit."""
    monkeypatch.setattr(logs, 'browser_log_limit', logs.BrowserLogLimit())
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logs.browser_log.addHandler(handler)
    yield records
    logs.browser_log.removeHandler(handler)


async def send_log(user: User, message: str, *, level: str = 'warning', client_id: str | None = None) -> None:
    handler = sio.handlers['/']['log']  # what the socket calls for a page's `log` event
    handler('test-sid', {'client_id': client_id or user.client.id, 'level': level, 'message': message})


async def test_a_page_cannot_flood_the_log_through_the_socket(user: User, browser_lines):
    await user.open('/login')
    for _ in range(1000):
        await send_log(user, 'x' * 100_000)
    assert len(browser_lines) == logs.BROWSER_LOG_PER_CLIENT
    assert all(len(record.getMessage()) < 1000 for record in browser_lines)


async def test_many_pages_together_cannot_flood_the_log(user: User, browser_lines, monkeypatch):
    monkeypatch.setattr(logs, 'browser_log_limit', logs.BrowserLogLimit(per_client=1000, total=5))
    await user.open('/login')
    for _ in range(50):
        await send_log(user, 'console error')
    assert len(browser_lines) == 5


async def test_a_page_may_still_report_a_console_error(user: User, browser_lines):
    await user.open('/login')
    await send_log(user, 'TypeError: x is undefined')
    [record] = browser_lines
    assert record.levelno == logging.WARNING and 'TypeError: x is undefined' in record.getMessage()


@pytest.mark.parametrize('message', [
    'not a dict', {'client_id': 'no-such-page', 'level': 'error', 'message': 'x'},
    {'client_id': ['a'], 'level': 'error', 'message': 'x'}, {'level': 'error'},
], ids=['not a dict', 'unknown page', 'odd client id', 'no client id'])
async def test_odd_socket_log_events_are_ignored(user: User, browser_lines, message):
    await user.open('/login')
    sio.handlers['/']['log']('test-sid', message)
    assert browser_lines == []


async def test_an_unknown_level_is_ignored(user: User, browser_lines):
    await user.open('/login')
    await send_log(user, 'x', level='critical')
    assert browser_lines == []


def test_json_lines_stay_parseable_with_hostile_fields(written: io.StringIO):
    log_hostile_record('json', written)
    line = json.loads(written.getvalue())
    assert line['field'] == HOSTILE
