"""The agent's log: the newest lines its runtime logged (secrets masked), following live as the runtime ships them,
so its owner never needs the server."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import background_tasks, run, ui

from models import AgentLogLine
from services.platform import events
from services.provisioning import AgentState
from services.runtime import log_lines

from ..frame import card

if TYPE_CHECKING:
    from .page import AgentPage

LINES_SHOWN = 500
LEVEL_CLASSES = {'warning': 'text-warning', 'error': 'text-negative', 'critical': 'text-negative'}


def line_text(line: AgentLogLine) -> str:
    return f'{line.at:%Y-%m-%d %H:%M:%S} {line.level.upper():<8} {line.message}'


class Logs:
    def __init__(self, page: AgentPage) -> None:
        self.page = page
        self.last_id = 0
        with card('Log'):
            ui.label('The newest lines the agent\'s runtime logged, following live; keys and tokens are masked.') \
                .classes('text-sm text-grey-7')
            self.empty = ui.label('No log lines yet: they arrive once the runtime runs.').classes('text-sm') \
                .mark('log-empty')
            self.view = ui.log(max_lines=LINES_SHOWN).classes('w-full h-64 font-mono text-xs').mark('agent-log')
        self.loader = events.Coalesced(self.load)
        events.agent_log.subscribe(self.on_log)  # unsubscribed when the browser leaves
        background_tasks.create(self.loader(), name=f'agent {page.agent_id}: log')

    def show(self, state: AgentState) -> None:
        """The log follows its own event (`agent_log`), not the agent's changes."""

    async def on_log(self, owner_id: int, agent_id: int) -> None:
        if owner_id == self.page.user.id and agent_id == self.page.agent_id:
            await self.loader()

    async def load(self) -> None:
        lines = await run.io_bound(log_lines.recent_lines, self.page.agent_id, after_id=self.last_id,
                                   limit=LINES_SHOWN)
        if not lines or self.page.client.is_deleted:
            return
        self.empty.set_visibility(False)
        for line in lines:
            self.view.push(line_text(line), classes=LEVEL_CLASSES.get(line.level))
        self.last_id = lines[-1].id
