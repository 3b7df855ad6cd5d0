"""`/settings`: the account's plan and its API tokens."""
from nicegui import run, ui

from services import accounts, plans
from services.errors import DomainError

from .frame import frame, signed_in_user


@ui.page('/settings')
async def settings_page() -> None:
    user = await signed_in_user()
    if user is None:
        return

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

    async def revoke(token_id: int) -> None:
        await run.io_bound(accounts.revoke_token, user=user, token_id=token_id)
        await show_tokens()

    with frame('Settings', user):
        with ui.card().classes('w-full'):
            ui.label('Plan').classes('text-lg font-medium')
            if plans.billing_is_configured():
                ui.label('No active subscription.').mark('plan-status')
            else:
                ui.label('Billing is not set up on this installation yet; the operator must connect Stripe.') \
                    .mark('plan-status')
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
