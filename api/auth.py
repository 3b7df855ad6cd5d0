"""Who is asking: the session (pages) or an API token (`Authorization: Bearer`), and the login-for-token route."""
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from nicegui import app, run
from starlette.middleware.base import BaseHTTPMiddleware

from models import User
from services.accounts import accounts
from services.accounts.accounts import AccountError

from . import csrf, schemas
from .bodies import read_json

PUBLIC_PREFIXES = ('/login', '/signup', '/healthz', '/metrics', '/_nicegui', '/static', '/favicon.ico',
                   '/api/webhooks/', '/api/provisioning/callback', '/api/provisioning/bootstrap', '/api/auth/token',
                   '/openapi.json', '/docs')
UNAUTHENTICATED = AccountError('UNAUTHENTICATED', 'Log in, or send an API token as "Authorization: Bearer <token>".')

router = APIRouter(prefix='/api/auth', tags=['auth'], responses=schemas.ERRORS)


class AuthMiddleware(BaseHTTPMiddleware):
    """Anonymous visitors of pages go to /login; anonymous API calls get 401 before any route runs."""

    async def dispatch(self, request: Request, call_next):
        path = request.url.path
        if path.startswith(PUBLIC_PREFIXES) or app.storage.user.get('user_id') is not None:
            return await call_next(request)
        if path.startswith('/api/'):
            if request.headers.get('authorization'):
                return await call_next(request)  # the route's CurrentUser dependency checks the token
            return JSONResponse(UNAUTHENTICATED.to_dict(), status_code=401)
        return RedirectResponse(f'/login?redirect_to={path}', status_code=303)


async def current_user(request: Request) -> User:
    scheme, _, token = request.headers.get('authorization', '').strip().partition(' ')
    if scheme:
        user = await run.io_bound(accounts.user_for_token, token.strip()) if scheme.lower() == 'bearer' else None
    elif 'session' in request.scope:  # a browser; machine requests take the fast lane without a session
        user = await run.io_bound(accounts.active_user, app.storage.user.get('user_id'))
        if user is not None:
            csrf.check_session_write(request)
    else:
        user = None
    if user is None:
        raise UNAUTHENTICATED
    return user


CurrentUser = Annotated[User, Depends(current_user)]


@router.post('/token', status_code=201, response_model=schemas.TokenAnswer,
             openapi_extra=schemas.body(schemas.TokenRequest))
async def exchange_password_for_token(request: Request) -> dict:
    """Lets scripts get an API token with email and password; throttled like the login page."""
    body = await read_json(request)
    address = request.client.host if request.client else 'unknown'
    user = await accounts.log_in(email=str(body.get('email', '')), password=str(body.get('password', '')),
                                 address=address)
    token = await run.io_bound(accounts.create_token, user=user, name=str(body.get('name', '')))
    return {'token': token}
