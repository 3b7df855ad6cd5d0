"""`/`: the signed-in user's agents with their status, updated live as provisioning moves on."""
from nicegui import run, ui

from models import Agent, AgentStatus, ProvisioningJob, User
from services import provisioning
from services.platform import events

from .frame import frame, health_badge, signed_in_user, status_badge


@ui.page('/')
async def agents_page() -> None:
    user = await signed_in_user()
    if user is None:
        return
    rows = await run.io_bound(provisioning.agents_with_jobs, owner=user)
    AgentList(user, rows).build()


class AgentList:
    """The owner's agents as last read; any change to one of them reads the list again."""

    def __init__(self, user: User, rows: list[tuple[Agent, ProvisioningJob | None]]) -> None:
        self.user = user
        self.rows = rows
        self.client = ui.context.client
        self.reloader = events.Coalesced(self.reload)

    def build(self) -> None:
        with frame('Agents', self.user):
            ui.button('New agent', icon='add', on_click=lambda: ui.navigate.to('/agents/new')).mark('new-agent')
            self.agent_list()
        events.agent_changed.subscribe(self.on_agent_changed)  # unsubscribed when the browser leaves

    @ui.refreshable_method
    def agent_list(self) -> None:
        if not self.rows:
            ui.label('No agents yet. Create one with "New agent" — it starts as a draft you can deploy later.') \
                .classes('text-grey-7').mark('no-agents')
        for agent, job in self.rows:
            agent_card(agent, job)

    async def on_agent_changed(self, owner_id: int, _agent_id: int) -> None:
        if owner_id == self.user.id:
            await self.reloader()

    async def reload(self) -> None:
        fresh = await run.io_bound(provisioning.agents_with_jobs, owner=self.user)
        if fresh is None or self.client.is_deleted:  # the app is stopping, or the browser left meanwhile
            return
        self.rows = fresh
        self.agent_list.refresh()


def agent_card(agent: Agent, job: ProvisioningJob | None) -> None:
    with ui.card().classes('w-full cursor-pointer').mark(f'agent-{agent.id}') \
            .on('click', lambda: ui.navigate.to(f'/agents/{agent.id}')):
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
                if agent.status == AgentStatus.RUNNING or agent.unreachable_since is not None:
                    health_badge(agent.health, marker=f'agent-{agent.id}-health')
                status_badge(agent.status)
