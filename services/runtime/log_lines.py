"""Agents' log lines: what a runtime ships (`POST /api/runtime/logs`), kept per agent so its owner reads them on
the agent page, following live, without the server.

Runtimes redact before they send; AgentHost redacts again with its own rules before it stores, because a runtime is
only as careful as its version. Each boot numbers its lines, so a batch sent twice is kept once; only the newest
`LINES_KEPT` lines of an agent are kept.
"""
from dataclasses import dataclass
from datetime import UTC, datetime

from models import Agent, AgentLogLine, write_transaction

from ..platform import events
from ..platform.inputs import text_problem
from ..platform.logs import redact
from .heartbeats import BOOT_ID_LIMIT, invalid

LINES_KEPT = 500
BATCH_LIMIT = 200
LINE_LIMIT = 2000
LEVELS = ('debug', 'info', 'warning', 'error', 'critical')


@dataclass(frozen=True)
class Line:
    seq: int
    at: datetime
    level: str
    message: str


def record_log_lines(agent_id: int, body: dict) -> int:
    """Keep a runtime's batch of lines; answers how many were new."""
    boot_id, lines = parse_batch(body)
    if not lines:
        return 0
    rows = [{'agent': agent_id, 'boot_id': boot_id, 'seq': line.seq, 'at': line.at, 'level': line.level,
             'message': redact(line.message)} for line in lines]
    with write_transaction():
        added = AgentLogLine.insert_many(rows).on_conflict_ignore().as_rowcount().execute()
        drop_lines_beyond_the_newest(agent_id)
    if added:
        events.agent_logged(Agent.get_by_id(agent_id).owner_id, agent_id)
    return added


def recent_lines(agent_id: int, *, after_id: int = 0, limit: int = LINES_KEPT) -> list[AgentLogLine]:
    """The agent's newest lines (those stored after line `after_id`), oldest first: a page that shows some asks
    only for what came since."""
    newest = (AgentLogLine.select().where((AgentLogLine.agent == agent_id) & (AgentLogLine.id > after_id))
              .order_by(AgentLogLine.id.desc()).limit(limit))
    return list(reversed(list(newest)))


def drop_lines_beyond_the_newest(agent_id: int) -> None:
    oldest_kept = (AgentLogLine.select(AgentLogLine.id).where(AgentLogLine.agent == agent_id)
                   .order_by(AgentLogLine.id.desc()).offset(LINES_KEPT - 1).limit(1).scalar())
    if oldest_kept is not None:
        AgentLogLine.delete().where((AgentLogLine.agent == agent_id) & (AgentLogLine.id < oldest_kept)).execute()


def parse_batch(body: dict) -> tuple[str, list[Line]]:
    boot_id, lines = body.get('boot_id'), body.get('lines')
    if not isinstance(boot_id, str) or not boot_id or len(boot_id) > BOOT_ID_LIMIT or text_problem(boot_id):
        raise invalid(f'boot_id must be text of 1–{BOOT_ID_LIMIT} characters.', 'boot_id')
    if not isinstance(lines, list) or len(lines) > BATCH_LIMIT:
        raise invalid(f'lines must be a list of at most {BATCH_LIMIT} lines.', 'lines')
    return boot_id, [parse_line(line) for line in lines]


def parse_line(line: object) -> Line:
    if not isinstance(line, dict):
        raise invalid('each line must be an object with seq, at, level and message.', 'lines')
    seq, at, level, message = line.get('seq'), line.get('at'), line.get('level'), line.get('message')
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= 2**62:
        raise invalid('seq must be a whole number from 1.', 'lines')
    if level not in LEVELS:
        raise invalid(f'level must be one of: {", ".join(LEVELS)}.', 'lines')
    if not isinstance(message, str):
        raise invalid('message must be text.', 'lines')
    return Line(seq, parse_time(at), level, message[:LINE_LIMIT].replace('\x00', ''))


def parse_time(value: object) -> datetime:
    """An ISO 8601 moment, kept as naive UTC like every time in the database."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise invalid('at must be an ISO 8601 time.', 'lines')
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment

