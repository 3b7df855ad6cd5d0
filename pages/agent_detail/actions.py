"""What the user can do to the agent: Deploy or Retry, Stop, Cancel and Delete, each a `guarded` action.

A refused Deploy or Retry is explained under the buttons, with the way out when the user can fix it (pay for the
agent, or choose a plan on the Settings page); other refusals are notifications.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nicegui import ui

from models import Agent, AgentStatus, ProvisioningJob
from services import provisioning
from services.billing import billing
from services.platform.errors import DomainError
from services.platform.settings import get_settings

from ..frame import attempt, guarded

if TYPE_CHECKING:
    from .page import AgentPage

SETTINGS_FIXES = ('NO_ACTIVE_SUBSCRIPTION', 'AGENT_LIMIT_REACHED')
"""Refusals the user can fix on the Settings page, so the page offers a button there."""
STOPPABLE = (AgentStatus.RUNNING, AgentStatus.PROVISIONING)


class Actions:
    def __init__(self, page: AgentPage) -> None:
        self.page = page
        as_user = guarded(page.user)
        self.act = as_user(self.run)
        self.pay_for_agent = as_user(self.open_checkout)
        self.delete = as_user(self.delete_agent)
        self.refusal: ui.row | None = None
        with ui.dialog() as self.dialog, ui.card():
            ui.label(f'Delete the agent "{page.state.agent.name}"? Its server is removed first. '
                     'This cannot be undone.')
            with ui.row():
                ui.button('Delete', color='negative', on_click=self.delete).mark('confirm-delete')
                ui.button('Cancel', on_click=self.dialog.close).props('flat')

    def add_refusal_row(self) -> None:
        self.refusal = ui.row().classes('items-center gap-2')

    def buttons(self, agent: Agent, job: ProvisioningJob | None) -> None:
        with ui.row().classes('items-center gap-2'):
            if agent.status == AgentStatus.FAILED:
                ui.button('Retry', icon='refresh', on_click=lambda: self.act(provisioning.retry, refusal_here=True)) \
                    .mark('retry')
            elif agent.status in provisioning.DEPLOYABLE_STATUSES:
                ui.button('Deploy', icon='rocket_launch',
                          on_click=lambda: self.act(provisioning.request_deploy, refusal_here=True)).mark('deploy')
            if agent.status in STOPPABLE:
                ui.button('Stop', icon='stop', on_click=lambda: self.act(provisioning.stop_agent)).props('outline') \
                    .mark('stop')
            if job is not None and job.is_open:
                ui.button('Cancel', icon='cancel', on_click=lambda: self.act(provisioning.cancel)).props('flat') \
                    .mark('cancel')
            if agent.status != AgentStatus.DELETING:
                ui.button('Delete', icon='delete', color='negative', on_click=self.dialog.open).props('outline') \
                    .mark('delete')

    async def run(self, action: Callable[..., Any], *, refusal_here: bool = False) -> None:
        self.refusal.clear()
        done = await attempt(action, owner=self.page.user, agent_id=self.page.agent_id,
                             on_error=self.show_refusal if refusal_here else None)
        if done is not None:
            await self.page.reloader()

    def show_refusal(self, problem: DomainError) -> None:
        with self.refusal:
            ui.icon('block', color='negative')
            ui.label(problem.message).classes('text-negative').mark('deploy-refusal')
            if problem.code in SETTINGS_FIXES and get_settings().billing_mode == 'per_agent':
                ui.button('Pay for this agent', on_click=self.pay_for_agent).mark('pay-for-agent')
            elif problem.code in SETTINGS_FIXES:
                ui.button('Go to Settings', on_click=lambda: ui.navigate.to('/settings')) \
                    .props('outline').mark('go-to-settings')

    async def open_checkout(self) -> None:
        """Per-agent billing: this agent's own Stripe Checkout; paying deploys it."""
        url = await attempt(billing.start_checkout, user=self.page.user, agent_id=self.page.agent_id)
        if url is not None:
            ui.navigate.to(url)

    async def delete_agent(self) -> None:
        self.dialog.close()
        agent = await attempt(provisioning.request_delete, owner=self.page.user, agent_id=self.page.agent_id)
        if agent is None:
            return
        if agent.status == AgentStatus.DELETED:
            ui.navigate.to('/')
        else:
            await self.page.reloader()
