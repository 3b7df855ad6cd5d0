"""`/agents/{id}`: an agent's configuration, status and the actions its state allows."""
from nicegui import run, ui

from services import agents, provisioning
from services.errors import DomainError

from .frame import frame, signed_in_user, status_badge

SETTINGS_FIXES = ('NO_ACTIVE_SUBSCRIPTION', 'AGENT_LIMIT_REACHED')
"""Refusals the user can fix on the Settings page, so the page offers a button there."""


@ui.page('/agents/{agent_id:int}')
async def agent_detail_page(agent_id: int) -> None:
    user = await signed_in_user()
    if user is None:
        return
    try:
        agent = await run.io_bound(agents.get_agent, owner=user, agent_id=agent_id)
    except DomainError as problem:
        with frame('Agent not found', user):
            ui.label(problem.message).mark('not-found')
            ui.link('Back to your agents', '/')
        return

    async def deploy() -> None:
        refusal.clear()
        try:
            await run.io_bound(provisioning.request_deploy, owner=user, agent_id=agent.id)
        except DomainError as problem:
            with refusal:
                ui.icon('block', color='negative')
                ui.label(problem.message).classes('text-negative').mark('deploy-refusal')
                if problem.code in SETTINGS_FIXES:
                    ui.button('Go to Settings', on_click=lambda: ui.navigate.to('/settings')) \
                        .props('outline').mark('go-to-settings')
            return
        ui.navigate.reload()

    async def delete() -> None:
        dialog.close()
        try:
            await run.io_bound(agents.delete_agent, owner=user, agent_id=agent.id)
        except DomainError as problem:
            ui.notify(problem.message, type='negative')
            return
        ui.navigate.to('/')

    with ui.dialog() as dialog, ui.card():
        ui.label(f'Delete the agent "{agent.name}"? This cannot be undone.')
        with ui.row():
            ui.button('Delete', color='negative', on_click=delete).mark('confirm-delete')
            ui.button('Cancel', on_click=dialog.close).props('flat')

    with frame(agent.name, user):
        with ui.row().classes('items-center gap-3'):
            status_badge(agent.status)
            if agent.ip_address:
                ui.label(f'IP address {agent.ip_address}').classes('font-mono').mark('ip-address')
        with ui.row().classes('items-center gap-2'):
            if agent.status in provisioning.DEPLOYABLE_STATUSES:
                ui.button('Deploy', icon='rocket_launch', on_click=deploy).mark('deploy')
            ui.button('Delete', icon='delete', color='negative', on_click=dialog.open).props('outline') \
                .mark('delete')
        refusal = ui.row().classes('items-center gap-2')
        with ui.card().classes('w-full'):
            ui.label('Configuration').classes('text-lg font-medium')
            for label, value in (('Description', agent.description), ('Model', agent.model),
                                 ('Region', agent.region), ('Size', agent.size),
                                 ('System prompt', agent.system_prompt)):
                with ui.row().classes('gap-2 w-full'):
                    ui.label(f'{label}:').classes('font-medium w-32')
                    ui.label(value or '—').classes('whitespace-pre-wrap flex-1').mark(f'config-{label.lower().replace(" ", "-")}')
