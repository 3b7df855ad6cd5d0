"""Sign-up, login and logout pages; the session lives in NiceGUI's per-browser user storage."""
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, run, ui

from services import accounts
from services.accounts import AccountError


def is_local_path(target: str) -> bool:
    """Only paths of this site: browsers read `/\\host` and `//host` as another site."""
    return target.startswith('/') and not target.startswith('//') and '\\' not in target \
        and not urlsplit(target).netloc


def start_session(user_id: int, redirect_to: str) -> None:
    app.storage.user.update(user_id=user_id)
    ui.navigate.to(redirect_to if is_local_path(redirect_to) else '/')


@ui.page('/login')
def login_page(request: Request, redirect_to: str = '/') -> None:
    address = request.client.host if request.client else 'unknown'

    async def log_in() -> None:
        error.text = ''
        try:
            user = await run.io_bound(accounts.authenticate, email=email.value, password=password.value,
                                      address=address)
        except AccountError as problem:
            error.text = problem.message
            return
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
def signup_page() -> None:
    async def sign_up() -> None:
        try:
            user = await run.io_bound(accounts.create_user, email=email.value, password=password.value)
        except AccountError as problem:
            (password if problem.field == 'password' else email).error = problem.message
            return
        start_session(user.id, '/')

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
def logout_page() -> RedirectResponse:
    app.storage.user.clear()
    return RedirectResponse('/login', status_code=303)
