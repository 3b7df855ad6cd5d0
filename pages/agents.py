"""`/`: the signed-in user's agents with their status."""
from nicegui import run, ui

from services import agents

from .frame import frame, signed_in_user, status_badge


@ui.page('/')
async def agents_page() -> None:
    user = await signed_in_user()
    if user is None:
        return
    rows = await run.io_bound(agents.list_agents, owner=user)
    with frame('Agents', user):
        ui.button('New agent', icon='add', on_click=lambda: ui.navigate.to('/agents/new')).mark('new-agent')
        if not rows:
            ui.label('No agents yet. Create one with "New agent" — it starts as a draft you can deploy later.') \
                .classes('text-grey-7').mark('no-agents')
        for agent in rows:
            with ui.card().classes('w-full cursor-pointer').mark(f'agent-{agent.id}') \
                    .on('click', lambda agent_id=agent.id: ui.navigate.to(f'/agents/{agent_id}')):
                with ui.row().classes('w-full items-center justify-between'):
                    with ui.column().classes('gap-0'):
                        ui.link(agent.name, f'/agents/{agent.id}').classes('text-lg font-medium')
                        ui.label(f'{agent.model} · {agent.region} · {agent.size}').classes('text-grey-7 text-sm')
                    with ui.row().classes('items-center gap-2'):
                        if agent.ip_address:
                            ui.label(agent.ip_address).classes('font-mono text-sm')
                        status_badge(agent.status)
