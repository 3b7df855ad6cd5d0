"""`/`: the signed-in user's agents with their status, updated live as provisioning moves on."""
from nicegui import run, ui

from services import provisioning
from services.platform import events

from .frame import frame, signed_in_user, status_badge


@ui.page('/')
async def agents_page() -> None:
    user = await signed_in_user()
    if user is None:
        return
    rows = await run.io_bound(provisioning.agents_with_jobs, owner=user)

    @ui.refreshable
    def agent_list() -> None:
        if not rows:
            ui.label('No agents yet. Create one with "New agent" — it starts as a draft you can deploy later.') \
                .classes('text-grey-7').mark('no-agents')
        for agent, job in rows:
            with ui.card().classes('w-full cursor-pointer').mark(f'agent-{agent.id}') \
                    .on('click', lambda agent_id=agent.id: ui.navigate.to(f'/agents/{agent_id}')):
                with ui.row().classes('w-full items-center justify-between'):
                    with ui.column().classes('gap-0'):
                        ui.link(agent.name, f'/agents/{agent.id}').classes('text-lg font-medium')
                        ui.label(f'{agent.model} · {agent.region} · {agent.size}').classes('text-grey-7 text-sm')
                    with ui.row().classes('items-center gap-2'):
                        if job is not None and job.is_open:
                            step = provisioning.STEP_LABELS.get(job.step, job.step)
                            ui.label(step).classes('text-sm text-grey-7').mark(f'agent-{agent.id}-step')
                        if agent.ip_address:
                            ui.label(agent.ip_address).classes('font-mono text-sm')
                        status_badge(agent.status)

    client = ui.context.client

    async def reload() -> None:
        nonlocal rows
        fresh = await run.io_bound(provisioning.agents_with_jobs, owner=user)
        if fresh is None or client.is_deleted:  # the app is stopping, or the browser left meanwhile
            return
        rows = fresh
        agent_list.refresh()

    reloader = events.Coalesced(reload)

    async def on_agent_changed(owner_id: int, _agent_id: int) -> None:
        if owner_id == user.id:
            await reloader()

    with frame('Agents', user):
        ui.button('New agent', icon='add', on_click=lambda: ui.navigate.to('/agents/new')).mark('new-agent')
        agent_list()
    events.agent_changed.subscribe(on_agent_changed)
