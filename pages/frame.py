"""The shared page frame: product name, navigation, the signed-in user and logout.

Pages are long-lived: a tab stays open after its account is disabled, loses admin rights or logs out. So every
page action re-checks the account when it runs (`guarded`), and every page re-checks it when the account changes
(`events.account_changed`), leaving for /login when it no longer may act.
"""
import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from fastapi import HTTPException
from nicegui import Client, app, run, storage, ui

from models import AgentHealth, AgentStatus, User
from services.accounts import accounts
from services.platform import events
from services.platform.errors import DomainError

STATUS_COLORS: dict[str, str] = {
    AgentStatus.DRAFT: 'grey', AgentStatus.PROVISIONING: 'blue', AgentStatus.RUNNING: 'positive',
    AgentStatus.FAILED: 'negative', AgentStatus.STOPPING: 'orange', AgentStatus.STOPPED: 'grey-7',
    AgentStatus.DELETING: 'orange', AgentStatus.DELETED: 'grey-5'}
HEALTH_COLORS: dict[str, str] = {AgentHealth.HEALTHY: 'positive', AgentHealth.DEGRADED: 'warning',
                                 AgentHealth.UNREACHABLE: 'negative', AgentHealth.UNKNOWN: 'grey'}


def session_user_id(client: Client) -> int | None:
    """The account the browser session that loaded `client` is signed in as (None once it logged out).

    Read through the page's own request: a handler built inside an event callback, or the callback itself, may
    run with another browser's request in context.
    """
    storage.request_contextvar.set(client.request)
    with suppress(AssertionError, KeyError):  # NiceGUI already pruned the storage of a session that ended
        return app.storage.user.get('user_id')
    return None


async def signed_in_user(*, admin: bool = False) -> User | None:
    """The session's user, or None after sending the browser to /login (a disabled or removed account).

    The page then follows the account: it leaves when the account is disabled, logs out or (with `admin`) loses
    admin rights.
    """
    user = await run.io_bound(accounts.active_user, app.storage.user.get('user_id'))
    if user is None:
        app.storage.user.clear()
        ui.navigate.to('/login')
        return None
    if admin and not user.is_admin:
        raise HTTPException(status_code=404, detail='Not Found')

    client = ui.context.client

    async def recheck(user_id: int) -> None:
        if user_id == user.id and not client.is_deleted:
            with client:
                await may_act(user, admin=admin)

    events.account_changed.subscribe(recheck)
    return user


async def may_act(user: User, *, admin: bool = False) -> bool:
    """True while `user` is still signed in here, enabled, and (with `admin`) an admin; else the page leaves."""
    client = ui.context.client
    target = None
    if session_user_id(client) != user.id:
        target = '/login'
    else:
        current = await run.io_bound(accounts.active_user, user.id)
        if current is None:
            target = '/login'
        elif admin and not current.is_admin:
            target = '/'
    if target is not None and not client.is_deleted:
        ui.navigate.to(target)
    return target is None


def guarded(user: User, *, admin: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a page's event handler so it acts only while `user` may still act (see `may_act`)."""
    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        async def checked(*args: Any, **kwargs: Any) -> Any:
            if not await may_act(user, admin=admin):
                return None
            result = handler(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result
        return checked
    return decorate


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
            logout_form()
    with ui.column().classes('w-full max-w-4xl mx-auto p-4 gap-4'):
        ui.label(title).classes('text-2xl font-semibold')
        yield


def logout_form() -> None:
    """Logging out is a same-origin POST (a link could be triggered by any site); the browser sends the form."""
    with ui.element('form').props('method=post action=/logout').classes('m-0'):
        ui.button('Log out').props('type=submit flat color=white').mark('logout')


def status_badge(status: str) -> ui.badge:
    return ui.badge(status, color=STATUS_COLORS.get(status, 'grey')).mark(f'status-{status}')


def health_badge(health: str, *, marker: str = 'health') -> ui.badge:
    return ui.badge(health, color=HEALTH_COLORS.get(health, 'grey')).props('outline').mark(marker)


@contextmanager
def card(title: str | None = None) -> Iterator[ui.card]:
    """The container every page section sits in: a full-width card, headed by its title."""
    with ui.card().classes('w-full') as section:
        if title is not None:
            ui.label(title).classes('text-lg font-medium')
        yield section


async def attempt(action: Callable[..., Any], *args: Any, error_label: ui.label | None = None,
                  on_error: Callable[[DomainError], Any] | None = None, **kwargs: Any) -> Any:
    """Run a service call off the event loop (a coroutine function is awaited as it is) and answer its result.

    A refusal is the user's to read, not a crash: its message goes to `on_error`, else into `error_label`, else
    into a notification, and the answer is None. Every service call a page makes returns a value when it succeeds.
    """
    try:
        if inspect.iscoroutinefunction(action):
            return await action(*args, **kwargs)
        return await run.io_bound(action, *args, **kwargs)
    except DomainError as problem:
        if on_error is not None:
            on_error(problem)
        elif error_label is not None:
            error_label.text = problem.message
        else:
            ui.notify(problem.message, type='negative')
        return None
