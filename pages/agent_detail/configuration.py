"""The agent's configuration; it cannot change while the page is open, so `show` has nothing to do."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import ui

from services.provisioning import AgentState

from ..frame import card

if TYPE_CHECKING:
    from .page import AgentPage


class Configuration:
    def __init__(self, page: AgentPage) -> None:
        agent = page.state.agent
        with card('Configuration'):
            for label, value in (('Description', agent.description), ('Model', agent.model),
                                 ('Region', agent.region), ('Size', agent.size),
                                 ('System prompt', agent.system_prompt)):
                with ui.row().classes('gap-2 w-full'):
                    ui.label(f'{label}:').classes('font-medium w-32')
                    ui.label(value or '—').classes('whitespace-pre-wrap flex-1') \
                        .mark(f'config-{label.lower().replace(" ", "-")}')

    def show(self, state: AgentState) -> None:
        """Nothing to bring up to date: only a draft or stopped agent's configuration may change, on another page."""
