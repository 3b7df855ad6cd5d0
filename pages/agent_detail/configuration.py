"""The agent's configuration, and editing it: a draft or stopped agent changes everything, a running one its name,
description, model and prompt live (a new config revision; region and size need a new deploy)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import ui
from nicegui.elements.mixins.value_element import ValueElement

from models import EDITABLE_STATUSES, Agent, AgentStatus
from services.provisioning import AgentState, agents

from ..frame import attempt, card, guarded

if TYPE_CHECKING:
    from .page import AgentPage

SHOWN = (('Name', 'name'), ('Description', 'description'), ('Model', 'model'), ('Region', 'region'), ('Size', 'size'),
         ('System prompt', 'system_prompt'))
LIVE_FIELDS = ('name', 'description', 'model', 'system_prompt')


def may_edit(agent: Agent) -> bool:
    return agent.status in (*EDITABLE_STATUSES, AgentStatus.RUNNING)


class Configuration:
    def __init__(self, page: AgentPage) -> None:
        self.page = page
        self.save = guarded(page.user)(self.save_changes)
        self.values: dict[str, ui.label] = {}
        with card('Configuration'):
            for label, field in SHOWN:
                with ui.row().classes('gap-2 w-full'):
                    ui.label(f'{label}:').classes('font-medium w-32')
                    self.values[field] = ui.label().classes('whitespace-pre-wrap flex-1') \
                        .mark(f'config-{label.lower().replace(" ", "-")}')
            self.edit_button = ui.button('Edit', icon='edit', on_click=self.open_editor).props('flat') \
                .mark('edit-config')
        self.editor = ui.dialog()
        self.show(page.state)

    def show(self, state: AgentState) -> None:
        for field, label in self.values.items():
            label.text = getattr(state.agent, field) or '—'
        self.edit_button.set_visibility(may_edit(state.agent))

    def open_editor(self) -> None:
        agent = self.page.state.agent
        running = agent.status == AgentStatus.RUNNING
        self.editor.clear()
        with self.editor, ui.card().classes('w-[40rem] max-w-full'):
            ui.label('Edit the agent').classes('text-lg font-medium')
            if running:
                ui.label('It is running: the change applies without a redeploy. Region and size need a new deploy.') \
                    .classes('text-sm text-grey-7')
            inputs: dict[str, ValueElement] = {
                'name': ui.input('Name', value=agent.name).classes('w-full').mark('edit-name'),
                'description': ui.input('Description', value=agent.description).classes('w-full'),
                'model': ui.select(agents.choices('model'), label='Model', value=agent.model).classes('w-full'),
                'system_prompt': ui.textarea('System prompt', value=agent.system_prompt).classes('w-full')
                .props('autogrow').mark('edit-system-prompt')}
            if not running:
                inputs['region'] = ui.select(agents.choices('region'), label='Region', value=agent.region)
                inputs['size'] = ui.select(agents.choices('size'), label='Size', value=agent.size)
            error = ui.label().classes('text-negative text-sm').mark('edit-error')
            with ui.row():
                ui.button('Save', on_click=lambda: self.save(inputs, error)).mark('save-config')
                ui.button('Cancel', on_click=self.editor.close).props('flat')
        self.editor.open()

    async def save_changes(self, inputs: dict[str, ValueElement], error: ui.label) -> None:
        agent = self.page.state.agent
        changed = {field: element.value for field, element in inputs.items()
                   if element.value != getattr(agent, field)}
        if changed and await attempt(agents.update_agent, owner=self.page.user, agent_id=agent.id, data=changed,
                                     error_label=error) is None:
            return
        self.editor.close()
        await self.page.reload()
