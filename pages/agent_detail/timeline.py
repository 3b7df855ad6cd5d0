"""The timeline: the job events, newest first; a change adds its new rows instead of rebuilding the list."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import ui

from services.provisioning import STEP_LABELS, AgentState, failure_reasons

from ..frame import card

if TYPE_CHECKING:
    from .page import AgentPage


class Timeline:
    def __init__(self, page: AgentPage) -> None:
        self.details = page.user.is_admin
        self.shown_events: set[int] = set()
        with card('Timeline'):
            self.empty = ui.label('Nothing has happened yet.').classes('text-grey-7').mark('timeline-empty')
            self.rows = ui.column().classes('gap-1 w-full').mark('timeline')
        self.show(page.state)

    def show(self, state: AgentState) -> None:
        new = [event for event in state.events if event.id not in self.shown_events]
        if not new:
            return
        self.empty.set_visibility(False)
        with self.rows:
            for event in new:  # oldest first, each moved to the top: the newest ends up first
                self.shown_events.add(event.id)
                with ui.row().classes('gap-3 w-full no-wrap').mark(f'event-{event.step}') as row:
                    ui.label(f'{event.time:%Y-%m-%d %H:%M:%S} UTC').classes('font-mono text-sm text-grey-7')
                    ui.label(STEP_LABELS.get(event.step, event.step.replace('_', ' ').capitalize())) \
                        .classes('text-sm font-medium w-32')
                    message = failure_reasons.event_message(event, details=self.details)
                    ui.label(message).classes('text-sm flex-1 break-all')
                row.move(target_index=0)
