"""The steps of the agent's latest job, drawn inside the header so they change with its status."""
from nicegui import ui

from models import AgentStatus, JobKind, JobStatus, ProvisioningJob
from services.provisioning import STEP_LABELS, failure_reasons, steps_of

from ..frame import card


def progress(job: ProvisioningJob, *, details: bool) -> None:
    steps = steps_of(job)
    done = len(steps) - 1 if job.status == JobStatus.SUCCEEDED else (
        steps.index(job.step) if job.step in steps else 0)
    with card():
        ui.label(f'{job_title(job)} · job {job.id} · {job.status.replace("_", " ")}') \
            .classes('text-lg font-medium').mark('job-status')
        with ui.row().classes('items-center gap-2 flex-wrap'):
            for index, step in enumerate(steps):
                icon, color, state_name = step_look(job, index, done)
                with ui.row().classes('items-center gap-1').mark(f'step-{step} step-{state_name}'):
                    ui.icon(icon, color=color)
                    ui.label(STEP_LABELS.get(step, step)).classes(f'text-{color}')
                if index < len(steps) - 1:
                    ui.icon('chevron_right', color='grey')
        if job.status != JobStatus.SUCCEEDED and (error := failure_reasons.job_error(job, details=details)):
            ui.label(error).classes('text-sm text-grey-8').mark('job-error')


def job_title(job: ProvisioningJob) -> str:
    if job.kind == JobKind.PROVISION:
        return 'Deploying'
    return 'Stopping' if job.goal == AgentStatus.STOPPED else 'Deleting'


def step_look(job: ProvisioningJob, index: int, done: int) -> tuple[str, str, str]:
    """Icon, colour and state name of the step at `index`, when the steps up to `done` are done."""
    if index <= done:
        return 'check_circle', 'positive', 'done'
    if index == done + 1 and job.is_open:
        return 'pending', 'primary', 'current'
    if index == done + 1:
        return 'error', 'negative', job.status
    return 'radio_button_unchecked', 'grey', 'pending'
