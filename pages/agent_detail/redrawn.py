"""Sections drawn again only when what they show changed: an open agent page hears every change to its agent —
each heartbeat, each timeline entry — and most leave a given section exactly as it was."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import ui

from services.provisioning import AgentState

if TYPE_CHECKING:
    from .page import AgentPage


class RedrawnWhenChanged:
    """A subclass says what it shows (`shown_of`, a comparable tuple) and how to draw it (`draw`); `live()` draws it
    the first time, and `show(state)` draws it again only when `shown_of` differs from what is on the screen."""

    def __init__(self, page: AgentPage) -> None:
        self.page = page
        self.shown: tuple = ()

    def shown_of(self, state: AgentState) -> tuple:
        raise NotImplementedError

    def draw(self, state: AgentState) -> None:
        raise NotImplementedError

    def show(self, state: AgentState) -> None:
        if self.shown_of(state) != self.shown:
            self.live.refresh()

    @ui.refreshable_method
    def live(self) -> None:
        state = self.page.state
        self.shown = self.shown_of(state)
        self.draw(state)
