"""Recent jobs with their timelines, and Retry or Cancel for each."""
from collections.abc import Callable

from nicegui import run, ui

from models import AgentStatus, ProvisioningJob, User
from services.operator import admin
from services.provisioning import failure_reasons

from ..frame import attempt, card, guarded


class Jobs:
    calls_out = False

    def __init__(self, user: User) -> None:
        self.act = guarded(user, admin=True)(self.run)
        with card('Jobs'):
            self.box = ui.column().classes('w-full gap-1')

    async def show(self) -> None:
        rows = await run.io_bound(admin.recent_jobs)
        self.box.clear()
        with self.box:
            if not rows:
                ui.label('No jobs yet.').classes('text-grey-7')
            for row in rows:
                self.job_row(row)

    def job_row(self, row: admin.JobRow) -> None:
        job, agent_id = row.job, row.agent.id
        title = (f'#{job.id} {job.kind} · {row.agent.name} ({row.owner.email}) · {job.status} · '
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
