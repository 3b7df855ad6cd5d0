"""The shared page frame: product name, navigation, the signed-in user and logout."""
from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import app, run, ui

from models import User
from services import accounts

STATUS_COLORS = {'draft': 'grey', 'provisioning': 'blue', 'running': 'positive', 'failed': 'negative',
                 'stopping': 'orange', 'stopped': 'grey-7', 'deleting': 'orange', 'deleted': 'grey-5'}


async def signed_in_user() -> User | None:
    """The session's user, or None after sending the browser to /login (a disabled or removed account)."""
    user = await run.io_bound(accounts.active_user, app.storage.user.get('user_id'))
    if user is None:
        app.storage.user.clear()
        ui.navigate.to('/login')
    return user


@contextmanager
def frame(title: str, user: User) -> Iterator[None]:
    ui.page_title(f'{title} · AgentHost')
    with ui.header().classes('items-center justify-between bg-primary'):
        with ui.row().classes('items-center gap-6'):
            ui.link('AgentHost', '/').classes('text-xl font-bold text-white no-underline')
            ui.link('Agents', '/').classes('text-white')
            ui.link('Settings', '/settings').classes('text-white')
            if user.is_admin:
                ui.link('Admin', '/admin').classes('text-white').mark('admin-link')
        with ui.row().classes('items-center gap-3'):
            ui.label(user.email).classes('text-white').mark('signed-in-user')
            ui.button('Log out', on_click=lambda: ui.navigate.to('/logout')).props('flat color=white')
    with ui.column().classes('w-full max-w-4xl mx-auto p-4 gap-4'):
        ui.label(title).classes('text-2xl font-semibold')
        yield


def status_badge(status: str) -> ui.badge:
    return ui.badge(status, color=STATUS_COLORS.get(status, 'grey')).mark(f'status-{status}')
