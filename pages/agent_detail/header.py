"""The top of the page: status, IP address, workflow run, failure reason, the actions and the job's steps.

It is redrawn only when what it shows changed; a change that only adds events leaves it alone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import ui

from models import Agent, AgentStatus, ProvisioningJob
from services.provisioning import AgentState, failure_reasons

from ..frame import status_badge
from .actions import Actions
from .progress import progress
from .redrawn import RedrawnWhenChanged

if TYPE_CHECKING:
    from .page import AgentPage


def header_of(state: AgentState) -> tuple:
    """What the header shows; when a change leaves it equal, only the timeline grows."""
    agent, job = state.agent, state.job
    return (agent.status, agent.status_reason, agent.ip_address,
            None if job is None else (job.id, job.status, job.step, job.last_error, job.run_url))


class Header(RedrawnWhenChanged):
    def __init__(self, page: AgentPage) -> None:
        super().__init__(page)
        self.details = page.user.is_admin
        self.actions = Actions(page)
        self.live()
        self.actions.add_refusal_row()

    def shown_of(self, state: AgentState) -> tuple:
        return header_of(state)

    def draw(self, state: AgentState) -> None:
        agent, job = state.agent, state.job
        self.status_row(agent, job)
        if agent.status == AgentStatus.FAILED and (
                reason := failure_reasons.agent_reason(agent, job, details=self.details)):
            ui.label(reason).classes('text-negative').mark('failure-reason')
        self.actions.buttons(agent, job)
        if job is not None:
            progress(job, details=self.details)

    def status_row(self, agent: Agent, job: ProvisioningJob | None) -> None:
        with ui.row().classes('items-center gap-3'):
            status_badge(agent.status)
            if agent.ip_address:
                ui.label(f'IP address {agent.ip_address}').classes('font-mono').mark('ip-address')
            if run_url := failure_reasons.run_link(job, details=self.details):
                ui.link('Workflow run', run_url, new_tab=True).mark('run-link')
