"""`/settings`: the account's plan and billing, and its API tokens."""
from nicegui import run, ui

from services.accounts import accounts
from services.billing import billing, plans
from services.platform.errors import DomainError
from services.platform.settings import get_settings

from .frame import frame, guarded, signed_in_user


def day(moment) -> str:
    return f'{moment:%Y-%m-%d}' if moment else '—'


def standing(summary: dict) -> str:
    """The plan's status and its next date, as a person says it."""
    if summary['status'] == 'comp':
        return f'complimentary until {day(summary["period_end"])}' if summary['period_end'] else \
            'complimentary, no end date'
    ending = 'ends' if summary['cancel_at_period_end'] else 'renews'
    return f'{summary["status"]} · {ending} {day(summary["period_end"])}'


async def go_to_stripe(action, error_label: ui.label, **kwargs) -> None:
    """Open a Stripe page (Checkout or the portal); Stripe's answer can take a moment, so say so."""
    error_label.text = 'Opening Stripe…'
    try:
        url = await run.io_bound(action, **kwargs)
    except DomainError as problem:
        error_label.text = problem.message
        return
    ui.navigate.to(url)


def billing_section(user, summary: dict, has_customer: bool, live_plan: bool, grace_ends) -> None:
    go_to_stripe_as_user = guarded(user)(go_to_stripe)
    with ui.card().classes('w-full'):
        ui.label('Plan').classes('text-lg font-medium')
        if not plans.billing_is_configured() and summary['status'] != 'comp':
            ui.label('Billing is not set up on this installation yet; the operator must connect Stripe.') \
                .mark('plan-status')
            return
        stripe_message = ui.label().classes('text-negative').mark('billing-message')
        if summary['plan']:
            ui.label(f'{summary["plan"].capitalize()} plan · {standing(summary)} · {summary["agents_used"]} of '
                     f'{summary["agents_allowed"]} agents in use').mark('plan-status')
        else:
            ui.label('No active subscription. Choose a plan to deploy agents.').mark('plan-status')
        if summary['status'] == 'past_due':
            ui.label(f'Your last payment failed. Update your payment method in "Manage billing" before '
                     f'{day(grace_ends)}, or your agents will be stopped.').classes('text-warning').mark('past-due')
        if get_settings().billing_mode == 'per_agent':
            ui.label('Each agent is billed on its own: pay for it when you deploy it.').classes('text-grey-7')
        else:
            with ui.row().classes('gap-4 w-full'):
                for plan in plans.plans():
                    current = plan.name == summary['plan'] and summary['agents_allowed'] > 0
                    with ui.card().classes('w-56').mark(f'plan-{plan.name}'):
                        ui.label(plan.name.capitalize()).classes('text-lg font-semibold')
                        ui.label(f'${plan.monthly_usd}/month')
                        ui.label(f'{plan.agents} agent{"s" if plan.agents > 1 else ""}')
                        if current:
                            ui.badge('Current plan', color='positive')
                        elif live_plan:  # a second Checkout would bill twice: plan changes go through the portal
                            ui.button('Change plan', on_click=lambda: go_to_stripe_as_user(
                                billing.open_portal, stripe_message, user=user)).props('outline') \
                                .mark(f'change-to-{plan.name}')
                        else:
                            ui.button('Subscribe', on_click=lambda p=plan.name: go_to_stripe_as_user(
                                billing.start_checkout, stripe_message, user=user, plan=p)) \
                                .mark(f'subscribe-{plan.name}')
        if has_customer:
            ui.button('Manage billing', icon='open_in_new', on_click=lambda: go_to_stripe_as_user(
                billing.open_portal, stripe_message, user=user)).props('outline').mark('manage-billing')


@ui.page('/settings')
async def settings_page() -> None:
    user = await signed_in_user()
    if user is None:
        return
    summary = await run.io_bound(billing.summary, user)
    has_customer = await run.io_bound(billing.has_customer, user)
    grace_ends = await run.io_bound(billing.grace_ends, user)
    live_plan = await run.io_bound(billing.has_live_plan, user)

    async def show_tokens() -> None:
        tokens = await run.io_bound(accounts.list_tokens, user=user)
        token_list.clear()
        with token_list:
            if not tokens:
                ui.label('No API tokens.').classes('text-grey-7').mark('no-tokens')
            for token in tokens:
                with ui.row().classes('items-center gap-3').mark(f'token-{token.id}'):
                    ui.label(token.name).classes('font-medium')
                    ui.label(f'{token.prefix}…').classes('font-mono text-sm')
                    ui.label(f'created {token.created_at:%Y-%m-%d %H:%M} UTC').classes('text-grey-7 text-sm')
                    ui.button('Revoke', on_click=lambda token_id=token.id: revoke(token_id)) \
                        .props('flat color=negative').mark(f'revoke-{token.id}')

    @guarded(user)
    async def create_token() -> None:
        try:
            token = await run.io_bound(accounts.create_token, user=user, name=token_name.value)
        except DomainError as problem:
            token_name.error = problem.message
            return
        token_name.value = ''
        new_token.clear()
        with new_token:
            ui.label('Copy this token now; it will not be shown again.').classes('text-warning')
            ui.input(value=token).props('readonly outlined').classes('w-full font-mono').mark('new-token')
        await show_tokens()

    @guarded(user)
    async def revoke(token_id: int) -> None:
        await run.io_bound(accounts.revoke_token, user=user, token_id=token_id)
        await show_tokens()

    with frame('Settings', user):
        billing_section(user, summary, has_customer, live_plan, grace_ends)
        with ui.card().classes('w-full'):
            ui.label('API tokens').classes('text-lg font-medium')
            ui.label('Use a token as "Authorization: Bearer <token>" with the JSON API.').classes('text-grey-7')
            with ui.row().classes('items-center gap-2 w-full'):
                token_name = ui.input('Token name', placeholder='ci-deploy').mark('token-name')
                token_name.on('keydown.enter', create_token)
                ui.button('Create token', on_click=create_token).mark('create-token')
            new_token = ui.column().classes('w-full')
            token_list = ui.column().classes('w-full gap-1')
    await show_tokens()
