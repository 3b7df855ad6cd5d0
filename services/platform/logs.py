"""Structured logs: one line per event, tagged with the request id, and never a secret in them.

Conventions for callers: `log = logging.getLogger(__name__)`, a message that reads as a sentence, and identifiers as
`extra` so they become fields: `log.info('job dispatched', extra={'job_id': job.id, 'agent_id': agent.id})`. The
request id is added by itself (`api/request_ids.py` puts it into `request_id`). `LOG_FORMAT=json` writes one JSON
object per line; `text` writes `time level logger message key=value …`, tracebacks folded into the same line.

Redaction happens on the handler, so it covers third-party loggers too: values of the secret settings, credential
headers, bearer and API tokens, Stripe keys, signatures and anything that looks like `password=…`. Control
characters in any field are escaped (`\\n`, `\\x1b`), so no value can end a line early or paint the terminal.

Browsers may report their console errors through NiceGUI's socket `log` event; anyone can open a page, so those
lines are truncated and rate-limited (`limit_browser_logs`) before they reach the log.
"""
import contextvars
import json
import logging
import re
import sys
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TextIO
from urllib.parse import unquote, urlsplit

from .settings import Settings

HANDLER_NAME = 'agenthost'
MASK = '[REDACTED]'
SECRET_SETTINGS = ('stripe_secret_key', 'stripe_webhook_secret', 'github_token', 'github_webhook_secret',
                   'callback_secret', 'storage_secret', 'metrics_token', 'anthropic_api_key', 'openai_api_key')
MIN_SECRET_LENGTH = 4
"""Shorter configured values are not masked by value: masking every 'abc' would garble logs, and the patterns below
still catch credentials by their shape."""

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar('request_id', default=None)

CREDENTIAL_HEADER = re.compile(
    r'''(?i)\b(authorization|proxy-authorization|cookie|set-cookie|stripe-signature|x-hub-signature(?:-256)?|'''
    r'''x-agenthost-signature)(["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\n]*)''')
CREDENTIAL_FIELD = re.compile(
    r'''(?i)(["']?\b[\w-]*(?:password|passwd|secret|token|api[_-]?key|signature)["']?\s*[:=]\s*)'''
    r'''("[^"]*"|'[^']*'|[^\s&,;}\]]+)''')
URL_PASSWORD = re.compile(r'(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)')
PATTERNS = (
    (CREDENTIAL_HEADER, rf'\1\2{MASK}'),
    (URL_PASSWORD, rf'\1{MASK}\3'),
    (CREDENTIAL_FIELD, rf'\1{MASK}'),
    (re.compile(r'(?i)\bbearer\s+[^\s"\',]+'), f'Bearer {MASK}'),
    (re.compile(r'\bah_[A-Za-z0-9_-]{6,}'), f'ah_{MASK}'),
    (re.compile(r'\b(sk|rk|pk)_(live|test)_[A-Za-z0-9_]+|\bsk_[A-Za-z0-9_]{6,}'), MASK),
    (re.compile(r'\bwhsec_[A-Za-z0-9_]+'), MASK),
    (re.compile(r'\b(sk-ant-|sk-|rt_)[A-Za-z0-9_-]{6,}'), rf'\1{MASK}'),  # model providers' keys, runtime tokens
    (re.compile(r'\b(v0|v1|sha1|sha256)=[0-9a-fA-F]{16,}'), rf'\1={MASK}'),
    (re.compile(r'\$argon2(id|i|d)\$[^\s\'"]+'), f'$argon2\\1${MASK}'),  # password hashes, e.g. in SQL debug lines
)
STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {'message', 'asctime', 'taskName'}

_known_secrets: set[str] = set()


def configure_logging(settings: Settings, *, stream: TextIO | None = None,
                      level: int = logging.INFO) -> logging.Handler:
    """Route every logger through one redacting handler in the configured format; safe to call again (it replaces
    its own handler and leaves others, such as pytest's, alone)."""
    _known_secrets.clear()
    for name in SECRET_SETTINGS:
        remember_secret(getattr(settings, name))
    remember_secret(smtp_password(settings.smtp_url))
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == 'json' else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ('uvicorn', 'uvicorn.error', 'uvicorn.access', 'nicegui'):  # their own handlers would bypass ours
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler


def remember_secret(value: str | None) -> None:
    """Mask this exact value wherever it appears (e.g. the storage secret generated at first start)."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        _known_secrets.add(value)


def smtp_password(url: str) -> str | None:
    try:
        password = urlsplit(url).password if url else None
    except ValueError:
        return None
    return unquote(password) if password else None


def redact(text: str) -> str:
    for secret in sorted(_known_secrets, key=len, reverse=True):  # longest first: one may contain another
        text = text.replace(secret, MASK)
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def extra_fields(record: logging.LogRecord) -> dict:
    """The `extra={…}` a caller passed, plus the request id of the surrounding request."""
    fields = {key: value for key, value in record.__dict__.items()
              if key not in STANDARD_ATTRIBUTES and not key.startswith('_')}
    if 'request_id' not in fields and (current := request_id.get()) is not None:
        fields['request_id'] = current
    return fields


class RedactingFilter(logging.Filter):
    """Rewrites the record in place: message, exception text and extra fields leave with credentials masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in extra_fields(record).items():
            if not isinstance(value, (int, float, bool)) and value is not None:
                setattr(record, key, redact(str(value)))
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec='milliseconds').replace('+00:00', 'Z')


def _problem(record: logging.LogRecord) -> str:
    """Traceback and stack, if any, as one string (the filter has already rendered and redacted them)."""
    return '\n'.join(part for part in (record.exc_text, record.stack_info) if part)


def _text_value(value: object) -> str:
    text = str(value)
    return json.dumps(text) if not text or any(c.isspace() or c == '"' for c in text) else text


ESCAPES = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}


def escape_controls(text: str) -> str:
    """Control characters, line and paragraph separators and lone surrogates as visible escapes; the rest as is."""
    if text.isprintable() and text.isascii():
        return text  # the common case, at C speed
    return ''.join(_escaped(char) for char in text)


def _escaped(char: str) -> str:
    if char in ESCAPES:
        return ESCAPES[char]
    if unicodedata.category(char) in ('Cc', 'Cs', 'Zl', 'Zp'):
        return f'\\x{ord(char):02x}' if ord(char) < 0x100 else f'\\u{ord(char):04x}'
    return char


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname, record.name, record.getMessage()]
        parts += [f'{key}={_text_value(value)}' for key, value in extra_fields(record).items()]
        if problem := _problem(record):
            parts.append(f'error={problem!r}')  # repr keeps a traceback on the event's one line
        return escape_controls(' '.join(str(part) for part in parts))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {'time': _timestamp(record), 'level': record.levelname, 'logger': record.name,
                'message': record.getMessage(), **extra_fields(record)}
        if problem := _problem(record):
            line['error'] = problem
        return json.dumps(line, default=str)  # ASCII only: every control character leaves as a \\u escape


class ContextThreadPool(ThreadPoolExecutor):
    """A thread pool whose tasks run in the submitter's context, so `run.io_bound` work logs the request id."""

    def submit(self, fn, /, *args, **kwargs):
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


def carry_context_into_threads() -> None:
    """NiceGUI's `run.io_bound` uses `loop.run_in_executor`, which (unlike `asyncio.to_thread`) drops contextvars."""
    from nicegui import run
    if not isinstance(run.thread_pool, ContextThreadPool):
        previous, run.thread_pool = run.thread_pool, ContextThreadPool()
        previous.shutdown(wait=False)


BROWSER_LOG_MAX_CHARS = 500
BROWSER_LOG_WINDOW_SECONDS = 60.0
BROWSER_LOG_PER_CLIENT = 10
"""Lines one page may log per window: enough for a few real console errors."""
BROWSER_LOG_TOTAL = 100
"""Lines all pages together may log per window: many open pages cannot flood the log either."""
BROWSER_LOG_LEVELS = {'debug': logging.DEBUG, 'info': logging.INFO, 'warning': logging.WARNING,
                      'error': logging.ERROR}
browser_log = logging.getLogger('nicegui.browser')


class BrowserLogLimit:
    """Fixed-window counts per client and in total; forgets everything each window, so it never grows."""

    def __init__(self, *, per_client: int = BROWSER_LOG_PER_CLIENT, total: int = BROWSER_LOG_TOTAL,
                 window: float = BROWSER_LOG_WINDOW_SECONDS) -> None:
        self.per_client, self.total, self.window = per_client, total, window
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._counts: dict[str, int] = {}
        self._sum = 0
        self.dropped = 0

    def allow(self, client_id: str) -> bool:
        with self._lock:
            if time.monotonic() - self._started >= self.window:
                self._started, self._counts, self._sum = time.monotonic(), {}, 0
            if self._sum >= self.total or self._counts.get(client_id, 0) >= self.per_client:
                self.dropped += 1
                return False
            self._counts[client_id] = self._counts.get(client_id, 0) + 1
            self._sum += 1
            return True


browser_log_limit = BrowserLogLimit()


def log_from_browser(_sid: str, msg: object) -> None:
    """NiceGUI's socket `log` event, bounded: known pages only, known levels, truncated text, rate-limited."""
    from nicegui import Client
    if not isinstance(msg, dict) or not isinstance(msg.get('client_id'), str):
        return
    level = BROWSER_LOG_LEVELS.get(msg.get('level')) if isinstance(msg.get('level'), str) else None
    if level is None or msg['client_id'] not in Client.instances or not browser_log_limit.allow(msg['client_id']):
        return
    text = str(msg.get('message', ''))
    if len(text) > BROWSER_LOG_MAX_CHARS:
        text = text[:BROWSER_LOG_MAX_CHARS] + f'… ({len(text) - BROWSER_LOG_MAX_CHARS} more characters dropped)'
    browser_log.log(level, 'browser: %s', text, extra={'client_id': msg['client_id']})


def limit_browser_logs() -> None:
    """Put `log_from_browser` in place of NiceGUI's own handler, which logs whatever any page sends."""
    from nicegui.nicegui import sio
    sio.on('log', log_from_browser)
