"""The setup checklist: each setting checked live against Stripe and GitHub."""
from nicegui import run, ui

from models import User
from services.operator import setup_checklist

from ..frame import card


class Checklist:
    calls_out = True

    def __init__(self, user: User) -> None:
        with card('Setup checklist'):
            self.box = ui.column().classes('w-full gap-1').mark('checklist')
            with self.box:
                ui.spinner()

    async def show(self) -> None:
        checks = [*await run.io_bound(setup_checklist.stripe_checks),
                  *await run.io_bound(setup_checklist.provisioning_checks),
                  *await run.io_bound(setup_checklist.provider_checks),
                  *setup_checklist.config_checks(reached_at=str(ui.context.client.request.base_url))]
        self.box.clear()
        with self.box:
            for check in checks:
                with ui.row().classes('items-center gap-2').mark(f'check-{check.name}'):
                    ui.icon('check_circle' if check.ok else 'error', color='positive' if check.ok else 'negative')
                    ui.label(check.name).classes('font-medium w-56')
                    ui.label(check.detail).classes('text-sm')
