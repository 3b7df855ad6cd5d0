"""Sign-up, login and logout; the session lives in NiceGUI's per-browser user storage.

The browser's session id (NiceGUI's `request.session['id']`, which keys the user storage) changes at login and at
logout, so a session cookie planted in a browser before login is worth nothing after it. A cookie can only be set
by an HTTP response, not over the page's websocket, so a login ends in `GET /login/complete` with a one-time ticket
kept in the old session, and logout is a `POST /logout` from this site.
"""
import secrets
import time
import uuid
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from api import csrf
from services.accounts import accounts
from services.platform import events
from services.platform.errors import DomainError

from .frame import attempt, frame, signed_in_user

LOGIN_TICKET_SECONDS = 60
router = APIRouter(tags=['sessions'])


def is_local_path(target: str) -> bool:
    """Only paths of this site: browsers read `/\\host` and `//host` as another site."""
    return target.startswith('/') and not target.startswith('//') and '\\' not in target \
        and not urlsplit(target).netloc


def start_session(user_id: int, redirect_to: str) -> None:
    """Send the browser to `/login/complete` with a ticket that only this browser session can redeem."""
    ticket = secrets.token_urlsafe(32)
    app.storage.user['login_ticket'] = {'ticket': ticket, 'user_id': user_id,
                                        'expires': time.time() + LOGIN_TICKET_SECONDS}
    target = redirect_to if is_local_path(redirect_to) else '/'
    ui.navigate.to(f'/login/complete?{urlencode({"ticket": ticket, "redirect_to": target})}')


async def rotate_session(request: Request, *, user_id: int | None) -> None:
    """Empty the browser's old session and give it a new id, signed in as `user_id` (or anonymous); the pages the
    old session still has open leave for /login."""
    previous_user_id = app.storage.user.get('user_id')
    app.storage.user.clear()
    request.session['id'] = new_id = str(uuid.uuid4())  # SessionMiddleware sends the new cookie with the answer
    if user_id is not None:
        await app.storage._create_user_storage(new_id)  # noqa: SLF001 — what NiceGUI's middleware does for a new id
        app.storage.user['user_id'] = user_id
    if previous_user_id is not None:
        events.account_updated(previous_user_id)


@router.get('/login/complete', include_in_schema=False)
async def complete_login(request: Request, ticket: str = '', redirect_to: str = '/') -> RedirectResponse:
    pending = app.storage.user.pop('login_ticket', None) or {}
    if not (ticket and secrets.compare_digest(str(pending.get('ticket', '')), ticket)
            and pending.get('expires', 0) > time.time()):
        return RedirectResponse('/login', status_code=303)
    await rotate_session(request, user_id=pending['user_id'])
    return RedirectResponse(redirect_to if is_local_path(redirect_to) else '/', status_code=303)


@router.post('/logout', include_in_schema=False)
async def log_out(request: Request) -> RedirectResponse:
    """Only this site's own pages may log a browser out; its other open pages then leave for /login."""
    if not csrf.is_same_origin(request):
        raise DomainError('CROSS_SITE_REQUEST', 'Log out from the pages of this site.')
    await rotate_session(request, user_id=None)
    return RedirectResponse('/login', status_code=303)


def client_address(request: Request) -> str:
    return request.client.host if request.client else 'unknown'


@ui.page('/login')
def login_page(request: Request, redirect_to: str = '/') -> None:
    address = client_address(request)

    async def log_in() -> None:
        error.text = ''
        user = await attempt(accounts.log_in, email=email.value, password=password.value, address=address,
                             error_label=error)
        if user is not None:
            start_session(user.id, redirect_to)

    ui.page_title('Log in · AgentHost')
    with ui.card().classes('absolute-center w-96'):
        ui.label('Log in to AgentHost').classes('text-xl font-semibold')
        email = ui.input('Email').props('type=email autofocus autocomplete=email').classes('w-full').mark('email')
        password = ui.input('Password', password=True).props('autocomplete=current-password').classes('w-full') \
            .mark('password')
        password.on('keydown.enter', log_in)
        email.on('keydown.enter', log_in)
        error = ui.label().classes('text-negative').mark('login-error')
        ui.button('Log in', on_click=log_in).classes('w-full')
        with ui.row().classes('gap-1'):
            ui.label('No account yet?')
            ui.link('Sign up', '/signup')


@ui.page('/signup')
def signup_page(request: Request) -> None:
    address = client_address(request)

    async def sign_up() -> None:
        user = await attempt(accounts.sign_up, email=email.value, password=password.value, address=address,
                             on_error=show_refusal)
        if user is not None:
            start_session(user.id, '/')

    def show_refusal(problem: DomainError) -> None:
        if problem.field is None:
            ui.notify(problem.message, type='negative')
        else:
            (password if problem.field == 'password' else email).error = problem.message

    ui.page_title('Sign up · AgentHost')
    with ui.card().classes('absolute-center w-96'):
        ui.label('Create your AgentHost account').classes('text-xl font-semibold')
        email = ui.input('Email', validation=accounts.validate_email) \
            .props('type=email autofocus autocomplete=email').classes('w-full').mark('email')
        password = ui.input('Password', password=True, validation=accounts.validate_password) \
            .props('autocomplete=new-password hint="At least 8 characters"').classes('w-full').mark('password')
        password.on('keydown.enter', sign_up)
        ui.button('Sign up', on_click=sign_up).classes('w-full')
        with ui.row().classes('gap-1'):
            ui.label('Already have an account?')
            ui.link('Log in', '/login')


@ui.page('/logout')
async def logout_page() -> None:
    """A link to /logout asks first: logging out happens only by the form's POST."""
    user = await signed_in_user()
    if user is None:
        return
    with frame('Log out', user):
        ui.label('Log out of AgentHost in this browser? Use the button at the top right.').mark('logout-question')
