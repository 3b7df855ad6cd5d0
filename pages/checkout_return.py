"""`/billing/return`: where Stripe Checkout sends the user back; it fulfils the session itself.

Fulfilment is the same idempotent function the webhook runs, so the new plan shows at once even when the
webhook is late, and nothing happens twice when both arrive.
"""
from nicegui import ui

from services.billing import billing
from services.billing.billing import Fulfilment
from services.platform.errors import DomainError

from .frame import attempt, frame, signed_in_user


@ui.page('/billing/return')
async def checkout_return_page(session_id: str = '') -> None:
    user = await signed_in_user()
    if user is None:
        return
    with frame('Payment', user):
        with ui.row().classes('items-center gap-2') as waiting:
            ui.spinner()
            ui.label('Confirming your payment with Stripe…')
        outcome = ui.column().classes('gap-2')
    await ui.context.client.connected()  # Stripe may take seconds: answer the page first
    result = await attempt(billing.fulfil_checkout, session_id, expected_user=user,
                           on_error=lambda problem: show_refusal(outcome, problem))
    waiting.delete()
    if result is not None:
        with outcome:
            show_result(result)


def show_refusal(outcome: ui.column, problem: DomainError) -> None:
    with outcome:
        ui.label(problem.message).classes('text-negative').mark('checkout-error')
        ui.button('Back to Settings', on_click=lambda: ui.navigate.to('/settings'))


def show_result(result: Fulfilment) -> None:
    if not result.complete:
        ui.label('Stripe has not confirmed the payment yet. This page checks again when you reload it.') \
            .mark('checkout-pending')
        ui.button('Check again', on_click=ui.navigate.reload)
    elif result.agent_id:
        ui.label('Payment received for your agent.').mark('checkout-plan')
        if result.deploy_error:
            ui.label(result.deploy_error.message).classes('text-negative').mark('deploy-refusal')
        ui.button('Open the agent', on_click=lambda: ui.navigate.to(f'/agents/{result.agent_id}'))
    else:
        ui.label(f'You are on the {result.plan} plan.').classes('text-lg').mark('checkout-plan')
        ui.button('Back to your agents', on_click=lambda: ui.navigate.to('/'))
        ui.button('Settings', on_click=lambda: ui.navigate.to('/settings')).props('flat')
