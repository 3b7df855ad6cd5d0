"""The runtime's one error type, and its translation to OpenAI's error shape at the HTTP edge."""
from starlette.responses import JSONResponse


class RuntimeApiError(Exception):
    """A request the runtime refuses or cannot serve; `status` and `code` become OpenAI's error answer."""

    def __init__(self, status: int, message: str, *, kind: str = 'invalid_request_error', code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict:
        return {'error': {'message': self.message, 'type': self.kind, 'param': self.param, 'code': self.code}}


def error_response(error: RuntimeApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> RuntimeApiError:
    return RuntimeApiError(400, message, param=param, code=code)


def provider_failed(message: str, *, code: str = 'provider_error') -> RuntimeApiError:
    """The model provider failed: a gateway error, so the caller knows the runtime itself is fine."""
    return RuntimeApiError(502, message, kind='api_error', code=code)
