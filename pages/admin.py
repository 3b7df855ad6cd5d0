"""`/admin`: setup checklist, accounts with comp grants, and webhook events with Reprocess (admins only)."""
from nicegui import run, ui

from services.billing import billing, plans
from services.operator import admin, setup_checklist
from services.platform.errors import DomainError
from services.provisioning import failure_reasons

from .frame import frame, guarded, signed_in_user


@ui.page('/admin')
async def admin_page() -> None:
    user = await signed_in_user(admin=True)
    if user is None:
        return
    as_admin = guarded(user, admin=True)

    with frame('Admin', user):
        with ui.card().classes('w-full'):
            ui.label('Setup checklist').classes('text-lg font-medium')
            checklist = ui.column().classes('w-full gap-1').mark('checklist')
            with checklist:
                ui.spinner()
        with ui.card().classes('w-full'):
            ui.label('Accounts').classes('text-lg font-medium')
            accounts_box = ui.column().classes('w-full gap-1')
        with ui.card().classes('w-full'):
            ui.label('Jobs').classes('text-lg font-medium')
            jobs_box = ui.column().classes('w-full gap-1')
        with ui.card().classes('w-full'):
            ui.label('Webhook events').classes('text-lg font-medium')
            events_box = ui.column().classes('w-full gap-1')

    async def show_accounts() -> None:
        rows = await run.io_bound(admin.accounts_overview)
        accounts_box.clear()
        with accounts_box:
            for row in rows:
                with ui.row().classes('items-center gap-3 w-full').mark(f'account-{row.user.id}'):
                    ui.label(row.user.email).classes('font-medium w-64')
                    ui.label(f'{row.plan or "no plan"} · {row.status or "—"} · '
                             f'{row.agents_in_use}/{row.agents_allowed} agents').classes('text-sm flex-1')
                    if row.user.is_disabled:
                        ui.badge('disabled', color='negative')
                    if row.user.id != user.id:
                        ui.button('Enable' if row.user.is_disabled else 'Disable',
                                  on_click=lambda r=row: set_disabled(r.user, not r.user.is_disabled)) \
                            .props('flat dense').mark(f'disable-{row.user.id}')
                    plan_choice = ui.select([plan.name for plan in plans.plans()], value='starter') \
                        .props('dense').mark(f'grant-plan-{row.user.id}')
                    ui.button('Grant', on_click=lambda r=row, p=plan_choice: grant(r.user, p.value)) \
                        .props('flat dense').mark(f'grant-{row.user.id}')

    @as_admin
    async def grant(account, plan: str) -> None:
        try:
            await run.io_bound(billing.grant_complimentary, user=account, plan=plan, granted_by=user.email)
        except DomainError as problem:
            ui.notify(problem.message, type='negative')
            return
        ui.notify(f'Granted {plan} to {account.email}.', type='positive')
        await show_accounts()

    @as_admin
    async def set_disabled(account, disabled: bool) -> None:
        await run.io_bound(admin.set_account_disabled, user_id=account.id, disabled=disabled)
        ui.notify(f'{account.email} {"disabled" if disabled else "enabled"}.')
        await show_accounts()

    async def show_jobs() -> None:
        rows = await run.io_bound(admin.recent_jobs)
        jobs_box.clear()
        with jobs_box:
            if not rows:
                ui.label('No jobs yet.').classes('text-grey-7')
            for row in rows:
                job = row.job
                title = (f'#{job.id} {job.kind} · {row.agent.name} ({row.owner.email}) · {job.status} · '
                         f'{job.attempts} attempt(s)')
                with ui.expansion(title).classes('w-full').mark(f'job-{job.id}'):
                    if job.last_error:
                        ui.label(job.last_error).classes('text-negative text-sm')
                    if run_url := failure_reasons.run_link(job, details=True):
                        ui.link('Workflow run', run_url, new_tab=True)
                    for event in row.timeline:
                        ui.label(f'{event.time:%Y-%m-%d %H:%M:%S} {event.step}: {event.message}') \
                            .classes('text-sm font-mono')
                    with ui.row():
                        if row.agent.status == 'failed' and not job.is_open:
                            ui.button('Retry', on_click=lambda a=row.agent.id: act(admin.retry_agent, a)) \
                                .props('flat dense').mark(f'retry-{job.id}')
                        if job.is_open:
                            ui.button('Cancel', on_click=lambda a=row.agent.id: act(admin.cancel_agent_job, a)) \
                                .props('flat dense color=negative').mark(f'cancel-{job.id}')

    @as_admin
    async def act(action, agent_id: int) -> None:
        try:
            job = await run.io_bound(action, agent_id)
        except DomainError as problem:
            ui.notify(problem.message, type='negative')
            return
        ui.notify(f'Job #{job.id}: {job.status}')
        await show_jobs()

    async def show_events() -> None:
        events = await run.io_bound(admin.recent_webhook_events)
        events_box.clear()
        with events_box:
            if not events:
                ui.label('No webhook events yet.').classes('text-grey-7')
            for event in events:
                with ui.row().classes('items-center gap-3 w-full').mark(f'event-{event.event_id}'):
                    ui.label(f'{event.received_at:%Y-%m-%d %H:%M:%S}').classes('text-sm font-mono')
                    ui.label(event.source).classes('w-16')
                    ui.label(event.type).classes('w-64')
                    ui.badge(event.status, color={'processed': 'positive', 'failed': 'negative',
                                                  'ignored': 'grey'}.get(event.status, 'blue'))
                    ui.label(event.last_error).classes('text-negative text-sm flex-1')
                    ui.button('Reprocess', on_click=lambda e=event: reprocess(e.source, e.event_id)) \
                        .props('flat dense').mark(f'reprocess-{event.event_id}')

    @as_admin
    async def reprocess(source: str, event_id: str) -> None:
        try:
            status = await run.io_bound(admin.reprocess_event, source, event_id)
        except Exception as problem:  # noqa: BLE001 — the failure is stored with its traceback; say it here
            ui.notify(f'{event_id} failed again: {getattr(problem, "message", problem)}', type='negative')
        else:
            ui.notify(f'{event_id}: {status}')
        await show_events()

    async def show_checklist() -> None:
        checks = [*await run.io_bound(setup_checklist.stripe_checks),
                  *await run.io_bound(setup_checklist.github_checks),
                  *setup_checklist.config_checks(reached_at=str(ui.context.client.request.base_url))]
        checklist.clear()
        with checklist:
            for check in checks:
                with ui.row().classes('items-center gap-2').mark(f'check-{check.name}'):
                    ui.icon('check_circle' if check.ok else 'error', color='positive' if check.ok else 'negative')
                    ui.label(check.name).classes('font-medium w-56')
                    ui.label(check.detail).classes('text-sm')

    await show_accounts()
    await show_jobs()
    await show_events()
    await ui.context.client.connected()  # the checklist calls Stripe: answer the page first
    await show_checklist()
