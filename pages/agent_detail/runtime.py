"""What the agent's runtime reports: where it answers, which config revision it serves, its health and this
billing period's usage. Redrawn only when one of those changed."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import ui

from models import Agent, utcnow
from services.provisioning import AgentState

from ..frame import card, health_badge
from .redrawn import RedrawnWhenChanged

if TYPE_CHECKING:
    from .page import AgentPage

def revision_text(agent: Agent) -> str:
    if agent.applied_revision == agent.config_revision:
        return f'Revision {agent.config_revision} applied'
    return f'Applying revision {agent.config_revision}'


def uptime(agent: Agent) -> str:
    """Since the runtime's first heartbeat of this boot, as of the latest heartbeat (the section redraws on each)."""
    seconds = int(((agent.last_heartbeat_at or utcnow()) - agent.runtime_started_at).total_seconds())
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f'{days} d {hours} h'
    if hours:
        return f'{hours} h {minutes} min'
    return f'{minutes} min' if minutes else f'{seconds} s'


def runtime_of(state: AgentState) -> tuple:
    agent = state.agent
    return (agent.endpoint_url, agent.config_revision, agent.applied_revision, agent.health, agent.health_message,
            agent.last_heartbeat_at, agent.runtime_started_at, state.usage)


class Runtime(RedrawnWhenChanged):
    def __init__(self, page: AgentPage) -> None:
        super().__init__(page)
        with card('Runtime'):
            self.live()

    def shown_of(self, state: AgentState) -> tuple:
        return runtime_of(state)

    def draw(self, state: AgentState) -> None:
        agent, usage = state.agent, state.usage
        with ui.row().classes('items-center gap-3'):
            health_badge(agent.health)
            ui.label(revision_text(agent)).mark('revision')
            if agent.runtime_started_at:
                ui.label(f'up {uptime(agent)}').classes('text-sm text-grey-7').mark('uptime')
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
