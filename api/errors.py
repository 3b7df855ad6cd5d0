"""The edge where domain errors become HTTP: every `/api` error leaves as `{"error": {"code", "message", "field"?}}`."""
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from services.platform.errors import DomainError

STATUS_BY_CODE = {
    'INVALID_JSON': 400,
    'BAD_SIGNATURE': 400,
    'STRIPE_REQUEST_FAILED': 502,
    'STRIPE_AUTH_FAILED': 502,
    'STRIPE_UNAVAILABLE': 503,
    'WEBHOOK_NOT_CONFIGURED': 503,
    'NO_BILLING_ACCOUNT': 409,
    'ALREADY_SUBSCRIBED': 409,
    'UNKNOWN_CUSTOMER': 409,
    'UNAUTHENTICATED': 401,
    'INVALID_CREDENTIALS': 401,
    'SIGNATURE_INVALID': 401,
    'ACCOUNT_DISABLED': 403,
    'CROSS_SITE_REQUEST': 403,
    'NO_ACTIVE_SUBSCRIPTION': 403,
    'AGENT_LIMIT_REACHED': 403,
    'NOT_FOUND': 404,
    'METHOD_NOT_ALLOWED': 405,
    'EMAIL_TAKEN': 409,
    'AGENT_NOT_EDITABLE': 409,
    'AGENT_NOT_DEPLOYABLE': 409,
    'AGENT_BUSY': 409,
    'AGENT_NOT_RUNNING': 409,
    'AGENT_NOT_FAILED': 409,
    'REDEPLOY_REQUIRED': 409,
    'AGENT_UNREACHABLE': 502,
    'RUNTIME_TOKEN_INVALID': 401,
    'PLAIN_HTTP_REFUSED': 403,
    'NO_OPEN_JOB': 409,
    'IDEMPOTENCY_KEY_REUSED': 409,
    'PAYLOAD_TOO_LARGE': 413,
    'UNSUPPORTED_MEDIA_TYPE': 415,
    'INVALID_INPUT': 422,
    'TOO_MANY_ATTEMPTS': 429,
    'BILLING_NOT_CONFIGURED': 503,
    'PROVISIONING_NOT_CONFIGURED': 503,
    'SHUTTING_DOWN': 503,
}


def error_response(error: DomainError) -> JSONResponse:
    headers = {'Retry-After': str(error.retry_after)} if error.retry_after else None
    return JSONResponse(error.to_dict(), status_code=STATUS_BY_CODE.get(error.code, 400), headers=headers)


async def handle_domain_error(_: Request, error: DomainError) -> JSONResponse:
    return error_response(error)


async def handle_validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
    first = error.errors()[0] if error.errors() else {}
    field = str(first.get('loc', ['', 'request'])[-1])
    message = f'{field}: {first.get("msg", "is invalid")}.'
    return error_response(DomainError('INVALID_INPUT', message, field=field))


async def handle_http_error(request: Request, error: HTTPException) -> JSONResponse:
    """Framework errors (405 and the like) on API paths in the same shape; NiceGUI keeps its own 404 page."""
    code = {404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED'}.get(error.status_code, 'HTTP_ERROR')
    return JSONResponse(DomainError(code, str(error.detail)).to_dict(), status_code=error.status_code,
                        headers=getattr(error, 'headers', None))


def install(app) -> None:
    app.add_exception_handler(DomainError, handle_domain_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(HTTPException, handle_http_error)


fallback = APIRouter()


@fallback.api_route('/api/{path:path}', methods=['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], include_in_schema=False)
async def unknown_api_path(path: str) -> None:
    raise DomainError('NOT_FOUND', f'There is no API endpoint /api/{path}.')
