"""What the agent's runtime reports: where it answers, which config revision it serves, its health and this
billing period's usage. Redrawn only when one of those changed."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import ui

from models import Agent, AgentHealth
from services.provisioning import AgentState

from ..frame import card

if TYPE_CHECKING:
    from .page import AgentPage

HEALTH_COLORS: dict[str, str] = {AgentHealth.HEALTHY: 'positive', AgentHealth.DEGRADED: 'warning',
                 AgentHealth.UNREACHABLE: 'negative', AgentHealth.UNKNOWN: 'grey'}


def revision_text(agent: Agent) -> str:
    if agent.applied_revision == agent.config_revision:
        return f'Revision {agent.config_revision} applied'
    return f'Applying revision {agent.config_revision}'


def runtime_of(state: AgentState) -> tuple:
    agent = state.agent
    return (agent.endpoint_url, agent.config_revision, agent.applied_revision, agent.health, agent.health_message,
            agent.last_heartbeat_at, state.usage)


class Runtime:
    def __init__(self, page: AgentPage) -> None:
        self.page = page
        self.shown: tuple = ()
        with card('Runtime'):
            self.live()

    def show(self, state: AgentState) -> None:
        if runtime_of(state) != self.shown:
            self.live.refresh()

    @ui.refreshable_method
    def live(self) -> None:
        state = self.page.state
        self.shown = runtime_of(state)
        agent, usage = state.agent, state.usage
        with ui.row().classes('items-center gap-3'):
            ui.badge(agent.health, color=HEALTH_COLORS.get(agent.health, 'grey')).mark('health')
            ui.label(revision_text(agent)).mark('revision')
            if agent.last_heartbeat_at:
                ui.label(f'last heartbeat {agent.last_heartbeat_at:%H:%M:%S} UTC').classes('text-sm text-grey-7')
        if agent.health_message:
            ui.label(agent.health_message).classes('text-sm text-warning').mark('health-message')
        if agent.endpoint_url:
            with ui.row().classes('items-center gap-2'):
                ui.label('Endpoint').classes('font-medium w-32')
                ui.label(f'{agent.endpoint_url}/v1').classes('font-mono').mark('endpoint')
        with ui.row().classes('items-center gap-2'):
            ui.label('Usage').classes('font-medium w-32')
            ui.label(f'{usage.requests} requests, {usage.input_tokens} input and {usage.output_tokens} output '
                     f'tokens since {usage.period_start:%Y-%m-%d}').classes('text-sm').mark('usage')
