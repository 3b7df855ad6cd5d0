"""`/agents/{id}`: an agent's configuration, live provisioning steps and timeline, and the actions its state allows.

The page rebuilds from the database whenever `events.agent_changed` names its agent (a callback, a webhook, the
dispatcher, another browser), and on every load, so a browser that reconnects late sees the truth.
"""
from nicegui import run, ui

from models import MAX_ID
from services import provisioning
from services.billing import billing
from services.platform import events
from services.platform.errors import DomainError
from services.platform.settings import get_settings
from services.provisioning import STEP_LABELS, AgentState, failure_reasons, steps_of

from .frame import frame, guarded, signed_in_user, status_badge

SETTINGS_FIXES = ('NO_ACTIVE_SUBSCRIPTION', 'AGENT_LIMIT_REACHED')
"""Refusals the user can fix on the Settings page, so the page offers a button there."""
STOPPABLE = ('running', 'provisioning')
shared_reads = events.SharedReads()
"""Every open page of one agent reloads after a change; one database read serves them all."""


@ui.page('/agents/{agent_id}')
async def agent_detail_page(agent_id: int) -> None:
    user = await signed_in_user()
    if user is None:
        return
    try:
        if not 0 < agent_id <= MAX_ID:
            raise DomainError('NOT_FOUND', f'There is no agent {agent_id}.')
        state: AgentState = await run.io_bound(provisioning.agent_state, owner=user, agent_id=agent_id)
    except DomainError as problem:
        with frame('Agent not found', user):
            ui.label(problem.message).mark('not-found')
            ui.link('Back to your agents', '/')
        return

    client = ui.context.client
    shown_header: tuple = ()
    shown_events: set[int] = set()
    timeline_rows: ui.column | None = None
    timeline_empty: ui.label | None = None

    async def reload() -> None:
        nonlocal state
        try:
            fresh = await shared_reads.read((user.id, agent_id, events.agent_version(agent_id)),
                                            lambda: run.io_bound(provisioning.agent_state, owner=user,
                                                                 agent_id=agent_id))
        except DomainError:  # deleted meanwhile
            fresh = None
        if client.is_deleted:  # the browser left while the database answered
            return
        if fresh is None or fresh.agent.status == 'deleted':
            ui.navigate.to('/')
            return
        state = fresh
        if header_of(fresh) != shown_header:
            live.refresh()
        show_new_events()

    reloader = events.Coalesced(reload)

    async def on_agent_changed(owner_id: int, changed_id: int) -> None:
        if owner_id == user.id and changed_id == agent_id:
            await reloader()

    @guarded(user)
    async def act(action, *, refusal_here: bool = False) -> None:
        refusal.clear()
        try:
            await run.io_bound(action, owner=user, agent_id=agent_id)
        except DomainError as problem:
            if not refusal_here:
                ui.notify(problem.message, type='negative')
                return
            with refusal:
                ui.icon('block', color='negative')
                ui.label(problem.message).classes('text-negative').mark('deploy-refusal')
                if problem.code in SETTINGS_FIXES and get_settings().billing_mode == 'per_agent':
                    ui.button('Pay for this agent', on_click=pay_for_agent).mark('pay-for-agent')
                elif problem.code in SETTINGS_FIXES:
                    ui.button('Go to Settings', on_click=lambda: ui.navigate.to('/settings')) \
                        .props('outline').mark('go-to-settings')
            return
        await reloader()

    @guarded(user)
    async def pay_for_agent() -> None:
        """Per-agent billing: this agent's own Stripe Checkout; paying deploys it."""
        try:
            url = await run.io_bound(billing.start_checkout, user=user, agent_id=agent_id)
        except DomainError as problem:
            ui.notify(problem.message, type='negative')
            return
        ui.navigate.to(url)

    @guarded(user)
    async def delete() -> None:
        dialog.close()
        try:
            agent = await run.io_bound(provisioning.request_delete, owner=user, agent_id=agent_id)
        except DomainError as problem:
            ui.notify(problem.message, type='negative')
            return
        if agent.status == 'deleted':
            ui.navigate.to('/')
        else:
            await reloader()

    def header_of(current: AgentState) -> tuple:
        """What the status part of the page shows; when a change leaves it equal, only the timeline grows."""
        agent, job = current.agent, current.job
        return (agent.status, agent.status_reason, agent.ip_address,
                None if job is None else (job.id, job.status, job.step, job.last_error, job.run_url))

    @ui.refreshable
    def live() -> None:
        nonlocal shown_header
        shown_header = header_of(state)
        agent, job = state.agent, state.job
        with ui.row().classes('items-center gap-3'):
            status_badge(agent.status)
            if agent.ip_address:
                ui.label(f'IP address {agent.ip_address}').classes('font-mono').mark('ip-address')
            if run_url := failure_reasons.run_link(job, details=user.is_admin):
                ui.link('Workflow run', run_url, new_tab=True).mark('run-link')
        if agent.status == 'failed' and (reason := failure_reasons.agent_reason(agent, job, details=user.is_admin)):
            ui.label(reason).classes('text-negative').mark('failure-reason')
        with ui.row().classes('items-center gap-2'):
            open_job = job is not None and job.is_open
            if agent.status == 'failed':
                ui.button('Retry', icon='refresh', on_click=lambda: act(provisioning.retry, refusal_here=True)) \
                    .mark('retry')
            elif agent.status in provisioning.DEPLOYABLE_STATUSES:
                ui.button('Deploy', icon='rocket_launch',
                          on_click=lambda: act(provisioning.request_deploy, refusal_here=True)).mark('deploy')
            if agent.status in STOPPABLE:
                ui.button('Stop', icon='stop', on_click=lambda: act(provisioning.stop_agent)).props('outline') \
                    .mark('stop')
            if open_job:
                ui.button('Cancel', icon='cancel', on_click=lambda: act(provisioning.cancel)).props('flat') \
                    .mark('cancel')
            if agent.status not in ('deleting',):
                ui.button('Delete', icon='delete', color='negative', on_click=dialog.open).props('outline') \
                    .mark('delete')
        if job is not None:
            progress(job)

    def progress(job) -> None:
        steps = steps_of(job)
        done = len(steps) - 1 if job.status == 'succeeded' else (steps.index(job.step) if job.step in steps else 0)
        with ui.card().classes('w-full'):
            title = 'Deploying' if job.kind == 'provision' else ('Stopping' if job.goal == 'stopped' else 'Deleting')
            ui.label(f'{title} · job {job.id} · {job.status.replace("_", " ")}').classes('text-lg font-medium') \
                .mark('job-status')
            with ui.row().classes('items-center gap-2 flex-wrap'):
                for index, step in enumerate(steps):
                    if index <= done:
                        icon, color, state_name = 'check_circle', 'positive', 'done'
                    elif index == done + 1 and job.is_open:
                        icon, color, state_name = 'pending', 'primary', 'current'
                    elif index == done + 1:
                        icon, color, state_name = 'error', 'negative', job.status
                    else:
                        icon, color, state_name = 'radio_button_unchecked', 'grey', 'pending'
                    with ui.row().classes('items-center gap-1').mark(f'step-{step} step-{state_name}'):
                        ui.icon(icon, color=color)
                        ui.label(STEP_LABELS.get(step, step)).classes(f'text-{color}')
                    if index < len(steps) - 1:
                        ui.icon('chevron_right', color='grey')
            if job.status != 'succeeded' and (error := failure_reasons.job_error(job, details=user.is_admin)):
                ui.label(error).classes('text-sm text-grey-8').mark('job-error')

    def timeline() -> None:
        """The card and its rows; later events are added by `show_new_events`, never by rebuilding the list."""
        nonlocal timeline_rows, timeline_empty
        with ui.card().classes('w-full'):
            ui.label('Timeline').classes('text-lg font-medium')
            timeline_empty = ui.label('Nothing has happened yet.').classes('text-grey-7').mark('timeline-empty')
            timeline_rows = ui.column().classes('gap-1 w-full').mark('timeline')
        show_new_events()

    def show_new_events() -> None:
        new = [event for event in state.events if event.id not in shown_events]
        if not new or timeline_rows is None:
            return
        timeline_empty.set_visibility(False)
        with timeline_rows:
            for event in new:  # oldest first, each moved to the top: the newest ends up first
                shown_events.add(event.id)
                with ui.row().classes('gap-3 w-full no-wrap').mark(f'event-{event.step}') as row:
                    ui.label(f'{event.time:%Y-%m-%d %H:%M:%S} UTC').classes('font-mono text-sm text-grey-7')
                    ui.label(STEP_LABELS.get(event.step, event.step.replace('_', ' ').capitalize())) \
                        .classes('text-sm font-medium w-32')
                    message = failure_reasons.event_message(event, details=user.is_admin)
                    ui.label(message).classes('text-sm flex-1 break-all')
                row.move(target_index=0)

    agent = state.agent
    with ui.dialog() as dialog, ui.card():
        ui.label(f'Delete the agent "{agent.name}"? Its server is removed first. This cannot be undone.')
        with ui.row():
            ui.button('Delete', color='negative', on_click=delete).mark('confirm-delete')
            ui.button('Cancel', on_click=dialog.close).props('flat')

    with frame(agent.name, user):
        live()
        refusal = ui.row().classes('items-center gap-2')
        timeline()
        with ui.card().classes('w-full'):
            ui.label('Configuration').classes('text-lg font-medium')
            for label, value in (('Description', agent.description), ('Model', agent.model),
                                 ('Region', agent.region), ('Size', agent.size),
                                 ('System prompt', agent.system_prompt)):
                with ui.row().classes('gap-2 w-full'):
                    ui.label(f'{label}:').classes('font-medium w-32')
                    ui.label(value or '—').classes('whitespace-pre-wrap flex-1') \
                        .mark(f'config-{label.lower().replace(" ", "-")}')
    events.agent_changed.subscribe(on_agent_changed)
