"""The runtime's last log lines, kept in memory and shipped to AgentHost, so the agent's owner reads them on the
agent page and never needs the server.

Every line is redacted before it is kept: the runtime token, the provider key and anything shaped like a key or a
bearer credential. Lines are numbered per process (boot), so a batch AgentHost receives twice is kept once.
"""
import asyncio
import logging
import re
import threading
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import httpx

log = logging.getLogger('runtime')

LINES_KEPT = 500
LINE_LIMIT = 2000
BATCH_LIMIT = 200
SHIP_SECONDS = 1.0
MASK = '[redacted]'
PATTERNS = (
    (re.compile(r'(?i)\bbearer\s+[^\s"\',]+'), f'Bearer {MASK}'),
    (re.compile(r'(?i)\b(api[_-]?key|token|authorization|password|secret)(["\']?\s*[:=]\s*["\']?)[^\s"\',}]+'),
     rf'\1\2{MASK}'),
    (re.compile(r'\b(sk-ant-|sk-|rt_|ah_)[A-Za-z0-9_-]{6,}'), rf'\1{MASK}'),
)
MIN_SECRET_LENGTH = 8


@dataclass(frozen=True)
class LogLine:
    seq: int
    at: str
    level: str
    message: str


class LogBook(logging.Handler):
    """A logging handler that keeps the newest `LINES_KEPT` lines, redacted, numbered from 1."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: deque[LogLine] = deque(maxlen=LINES_KEPT)
        self.secrets: set[str] = set()
        self.next_seq = 1
        self.guard = threading.Lock()

    def remember_secret(self, value: str | None) -> None:
        if value and len(value) >= MIN_SECRET_LENGTH:
            self.secrets.add(value)

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        for pattern, replacement in PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f' ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})'
            line_text = self.redact(text)[:LINE_LIMIT]
            at = datetime.fromtimestamp(record.created, UTC).isoformat(timespec='milliseconds')
            with self.guard:
                self.lines.append(LogLine(self.next_seq, at, record.levelname.lower(), line_text))
                self.next_seq += 1
        except Exception:  # noqa: BLE001 — logging must never break the runtime
            self.handleError(record)

    def after(self, seq: int) -> list[LogLine]:
        """The kept lines numbered above `seq`, oldest first, at most one batch."""
        with self.guard:
            return [line for line in self.lines if line.seq > seq][:BATCH_LIMIT]


async def ship_logs_forever(book: LogBook, boot_id: str, client: httpx.AsyncClient) -> None:
    """Every second, the lines AgentHost does not have yet; what fails to arrive is sent again with the next batch
    (older lines than the book keeps are lost, and the page shows the gap by their numbers)."""
    shipped = 0
    while True:
        await asyncio.sleep(SHIP_SECONDS)
        while batch := book.after(shipped):
            if not await ship(client, boot_id, batch):
                break
            shipped = batch[-1].seq


async def ship(client: httpx.AsyncClient, boot_id: str, batch: list[LogLine]) -> bool:
    try:
        response = await client.post('/api/runtime/logs', json={'boot_id': boot_id,
                                                                'lines': [asdict(line) for line in batch]})
    except httpx.HTTPError:
        return False  # said by the heartbeat, which fails the same way; a log line here would only add to the book
    return response.status_code == 200
