"""Recent jobs with their timelines, and Retry or Cancel for each."""
from collections.abc import Callable

from nicegui import ui

from models import AgentStatus, ProvisioningJob, User
from services.operator import admin
from services.provisioning import failure_reasons

from ..frame import attempt, guarded
from .listed import ListedSection


class Jobs(ListedSection):
    title = 'Jobs'
    empty = 'No jobs yet.'

    def __init__(self, user: User) -> None:
        self.act = guarded(user, admin=True)(self.run)
        super().__init__()

    def read(self) -> list[admin.JobRow]:
        return admin.recent_jobs()

    def draw_row(self, row: admin.JobRow) -> None:
        job, agent_id = row.job, row.agent.id
        kind = f'{job.kind} (heal)' if job.heal else job.kind
        title = (f'#{job.id} {kind} · {row.agent.name} ({row.owner.email}) · {job.status} · '
                 f'{job.attempts} attempt(s)')
        with ui.expansion(title).classes('w-full').mark(f'job-{job.id}'):
            if job.last_error:
                ui.label(job.last_error).classes('text-negative text-sm')
            if run_url := failure_reasons.run_link(job, details=True):
                ui.link('Workflow run', run_url, new_tab=True)
            for event in row.timeline:
                ui.label(f'{event.time:%Y-%m-%d %H:%M:%S} {event.step}: {event.message}').classes('text-sm font-mono')
            with ui.row():
                if row.agent.status == AgentStatus.FAILED and not job.is_open:
                    ui.button('Retry', on_click=lambda: self.act(admin.retry_agent, agent_id)) \
                        .props('flat dense').mark(f'retry-{job.id}')
                if job.is_open:
                    ui.button('Cancel', on_click=lambda: self.act(admin.cancel_agent_job, agent_id)) \
                        .props('flat dense color=negative').mark(f'cancel-{job.id}')

    async def run(self, action: Callable[[int], ProvisioningJob], agent_id: int) -> None:
        job = await attempt(action, agent_id)
        if job is None:
            return
        ui.notify(f'Job #{job.id}: {job.status}')
        await self.show()
