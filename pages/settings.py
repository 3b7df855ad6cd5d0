"""`/settings`: the account's plan and billing, and its API tokens."""
from dataclasses import dataclass
from datetime import datetime

from nicegui import run, ui

from models import SubscriptionStatus, User
from services.accounts import accounts
from services.billing import billing, plans
from services.platform.errors import DomainError
from services.platform.settings import get_settings

from .frame import attempt, card, frame, guarded, signed_in_user


@dataclass(frozen=True)
class Billing:
    """What the Plan section shows, read in one go."""
    summary: dict
    has_customer: bool
    grace_ends: datetime | None
    live_plan: bool


def read_billing(user: User) -> Billing:
    return Billing(summary=billing.summary(user), has_customer=billing.has_customer(user),
                   grace_ends=billing.grace_ends(user), live_plan=billing.has_live_plan(user))


def day(moment) -> str:
    return f'{moment:%Y-%m-%d}' if moment else '—'


def standing(summary: dict) -> str:
    """The plan's status and its next date, as a person says it."""
    if summary['status'] == SubscriptionStatus.COMP:
        return f'complimentary until {day(summary["period_end"])}' if summary['period_end'] else \
            'complimentary, no end date'
    ending = 'ends' if summary['cancel_at_period_end'] else 'renews'
    return f'{summary["status"]} · {ending} {day(summary["period_end"])}'


@ui.page('/settings')
async def settings_page() -> None:
    user = await signed_in_user()
    if user is None:
        return
    current = await run.io_bound(read_billing, user)
    with frame('Settings', user):
        billing_section(user, current)
        tokens = Tokens(user)
    await tokens.show()


async def go_to_stripe(action, error_label: ui.label, **kwargs) -> None:
    """Open a Stripe page (Checkout or the portal); Stripe's answer can take a moment, so say so."""
    error_label.text = 'Opening Stripe…'
    url = await attempt(action, error_label=error_label, **kwargs)
    if url is not None:
        ui.navigate.to(url)


def billing_section(user: User, current: Billing) -> None:
    summary = current.summary
    with card('Plan'):
        if not plans.billing_is_configured() and summary['status'] != SubscriptionStatus.COMP:
            ui.label('Billing is not set up on this installation yet; the operator must connect Stripe.') \
                .mark('plan-status')
            return
        stripe_message = ui.label().classes('text-negative').mark('billing-message')
        if summary['plan']:
            ui.label(f'{summary["plan"].capitalize()} plan · {standing(summary)} · {summary["agents_used"]} of '
                     f'{summary["agents_allowed"]} agents in use').mark('plan-status')
        else:
            ui.label('No active subscription. Choose a plan to deploy agents.').mark('plan-status')
        if summary['status'] == SubscriptionStatus.PAST_DUE:
            ui.label(f'Your last payment failed. Update your payment method in "Manage billing" before '
                     f'{day(current.grace_ends)}, or your agents will be stopped.').classes('text-warning') \
                .mark('past-due')
        if get_settings().billing_mode == 'per_agent':
            ui.label('Each agent is billed on its own: pay for it when you deploy it.').classes('text-grey-7')
        else:
            plan_cards(user, current, stripe_message)
        if current.has_customer:
            go_to_stripe_as_user = guarded(user)(go_to_stripe)
            ui.button('Manage billing', icon='open_in_new', on_click=lambda: go_to_stripe_as_user(
                billing.open_portal, stripe_message, user=user)).props('outline').mark('manage-billing')


def plan_cards(user: User, current: Billing, stripe_message: ui.label) -> None:
    go_to_stripe_as_user = guarded(user)(go_to_stripe)
    summary = current.summary
    with ui.row().classes('gap-4 w-full'):
        for plan in plans.plans():
            with ui.card().classes('w-56').mark(f'plan-{plan.name}'):
                ui.label(plan.name.capitalize()).classes('text-lg font-semibold')
                ui.label(f'${plan.monthly_usd}/month')
                ui.label(f'{plan.agents} agent{"s" if plan.agents > 1 else ""}')
                if plan.name == summary['plan'] and summary['agents_allowed'] > 0:
                    ui.badge('Current plan', color='positive')
                elif current.live_plan:  # a second Checkout would bill twice: plan changes go through the portal
                    ui.button('Change plan', on_click=lambda: go_to_stripe_as_user(
                        billing.open_portal, stripe_message, user=user)).props('outline') \
                        .mark(f'change-to-{plan.name}')
                else:
                    ui.button('Subscribe', on_click=lambda p=plan.name: go_to_stripe_as_user(
                        billing.start_checkout, stripe_message, user=user, plan=p)) \
                        .mark(f'subscribe-{plan.name}')


class Tokens:
    """The API tokens section: create one (shown once), list them, revoke one."""

    def __init__(self, user: User) -> None:
        self.user = user
        create = guarded(user)(self.create_token)
        self.revoke = guarded(user)(self.revoke_token)
        with card('API tokens'):
            ui.label('Use a token as "Authorization: Bearer <token>" with the JSON API.').classes('text-grey-7')
            with ui.row().classes('items-center gap-2 w-full'):
                self.name = ui.input('Token name', placeholder='ci-deploy').mark('token-name')
                self.name.on('keydown.enter', create)
                ui.button('Create token', on_click=create).mark('create-token')
            self.new_token = ui.column().classes('w-full')
            self.token_list = ui.column().classes('w-full gap-1')

    async def show(self) -> None:
        tokens = await run.io_bound(accounts.list_tokens, user=self.user)
        self.token_list.clear()
        with self.token_list:
            if not tokens:
                ui.label('No API tokens.').classes('text-grey-7').mark('no-tokens')
            for token in tokens:
                with ui.row().classes('items-center gap-3').mark(f'token-{token.id}'):
                    ui.label(token.name).classes('font-medium')
                    ui.label(f'{token.prefix}…').classes('font-mono text-sm')
                    ui.label(f'created {token.created_at:%Y-%m-%d %H:%M} UTC').classes('text-grey-7 text-sm')
                    ui.button('Revoke', on_click=lambda token_id=token.id: self.revoke(token_id)) \
                        .props('flat color=negative').mark(f'revoke-{token.id}')

    async def create_token(self) -> None:
        token = await attempt(accounts.create_token, user=self.user, name=self.name.value,
                              on_error=self.show_name_error)
        if token is None:
            return
        self.name.value = ''
        self.new_token.clear()
        with self.new_token:
            ui.label('Copy this token now; it will not be shown again.').classes('text-warning')
            ui.input(value=token).props('readonly outlined').classes('w-full font-mono').mark('new-token')
        await self.show()

    def show_name_error(self, problem: DomainError) -> None:
        self.name.error = problem.message

    async def revoke_token(self, token_id: int) -> None:
        await run.io_bound(accounts.revoke_token, user=self.user, token_id=token_id)
        await self.show()
