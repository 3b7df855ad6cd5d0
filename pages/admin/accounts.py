"""Accounts: plan and agent use, Disable/Enable, and complimentary grants."""
from nicegui import run, ui

from models import User
from services.billing import billing, plans
from services.operator import admin

from ..frame import attempt, guarded
from .listed import ListedSection


class Accounts(ListedSection):
    title = 'Accounts'

    def __init__(self, user: User) -> None:
        self.user = user
        as_admin = guarded(user, admin=True)
        self.grant = as_admin(self.grant_plan)
        self.set_disabled = as_admin(self.set_account_disabled)
        super().__init__()

    def read(self) -> list[admin.AccountRow]:
        return admin.accounts_overview()

    def draw_row(self, row: admin.AccountRow) -> None:
        account = row.user
        with ui.row().classes('items-center gap-3 w-full').mark(f'account-{account.id}'):
            ui.label(account.email).classes('font-medium w-64')
            ui.label(f'{row.plan or "no plan"} · {row.status or "—"} · '
                     f'{row.agents_in_use}/{row.agents_allowed} agents').classes('text-sm flex-1')
            if account.is_disabled:
                ui.badge('disabled', color='negative')
            if account.id != self.user.id:
                ui.button('Enable' if account.is_disabled else 'Disable',
                          on_click=lambda: self.set_disabled(account, not account.is_disabled)) \
                    .props('flat dense').mark(f'disable-{account.id}')
            plan_choice = ui.select([plan.name for plan in plans.plans()], value='starter') \
                .props('dense').mark(f'grant-plan-{account.id}')
            ui.button('Grant', on_click=lambda: self.grant(account, plan_choice.value)) \
                .props('flat dense').mark(f'grant-{account.id}')

    async def grant_plan(self, account: User, plan: str) -> None:
        if await attempt(billing.grant_complimentary, user=account, plan=plan, granted_by=self.user.email) is None:
            return
        ui.notify(f'Granted {plan} to {account.email}.', type='positive')
        await self.show()

    async def set_account_disabled(self, account: User, disabled: bool) -> None:
        await run.io_bound(admin.set_account_disabled, user_id=account.id, disabled=disabled)
        ui.notify(f'{account.email} {"disabled" if disabled else "enabled"}.')
        await self.show()
