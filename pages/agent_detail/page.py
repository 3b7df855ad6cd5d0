"""`AgentPage`: one open page of one agent, the state it last read, and its sections.

A section is a class built inside the page's frame from the `AgentPage`, with a `show(state)` that brings it up to
date after a change. Adding one to the page is a module in this package and a line in `SECTIONS`.
"""
from collections.abc import Callable
from typing import Protocol

from nicegui import run, ui

from models import AgentStatus, User
from services import provisioning
from services.platform import events
from services.platform.errors import DomainError
from services.provisioning import AgentState

from ..frame import frame
from . import chat, configuration, header, keys, logs, runtime, timeline

shared_reads = events.SharedReads()
"""Every open page of one agent reloads after a change; one database read serves them all."""


class Section(Protocol):
    def show(self, state: AgentState) -> None:
        """Bring what the section shows up to date with a fresh read of the agent."""


class AgentPage:
    """The agent's last read state, shared by the sections, and the live updates that bring them up to date."""

    def __init__(self, user: User, state: AgentState) -> None:
        self.user = user
        self.state = state
        self.agent_id: int = state.agent.id
        self.client = ui.context.client
        self.reloader = events.Coalesced(self.reload)
        self.sections: list[Section] = []

    def build(self) -> None:
        with frame(self.state.agent.name, self.user):
            self.sections = [section(self) for section in SECTIONS]
        events.agent_changed.subscribe(self.on_agent_changed)  # unsubscribed when the browser leaves

    async def on_agent_changed(self, owner_id: int, changed_id: int) -> None:
        if owner_id == self.user.id and changed_id == self.agent_id:
            await self.reloader()

    async def reload(self) -> None:
        fresh = await self.read()
        if self.client.is_deleted:  # the browser left while the database answered
            return
        if fresh is None or fresh.agent.status == AgentStatus.DELETED:
            ui.navigate.to('/')
            return
        self.state = fresh
        for section in self.sections:
            section.show(fresh)

    async def read(self) -> AgentState | None:
        """The agent now, or None once it was deleted meanwhile."""
        try:
            return await shared_reads.read(
                (self.user.id, self.agent_id, events.agent_version(self.agent_id)),
                lambda: run.io_bound(provisioning.agent_state, owner=self.user, agent_id=self.agent_id))
        except DomainError:
            return None


SECTIONS: tuple[Callable[[AgentPage], Section], ...] = (header.Header, runtime.Runtime, chat.Chat, timeline.Timeline,
                                                       logs.Logs, configuration.Configuration, keys.Keys)
"""The page's sections, top to bottom."""
