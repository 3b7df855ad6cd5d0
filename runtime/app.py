"""The runtime's HTTP surface: liveness, readiness, and OpenAI's models and chat completions endpoints."""
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .control import control_client, poll_config_forever
from .errors import RuntimeApiError, error_response, provider_failed
from .heartbeats import heartbeat_forever
from .keys import FailureLimiter, bearer_of, invalid_key, key_id_for
from .limits import ChatRequest, chat_request_of, read_body
from .logbook import LogBook, ship_logs_forever
from .providers import Delta
from .state import Active, RuntimeState

log = logging.getLogger('runtime')


def client_address(request: Request) -> str:
    """The caller's address; behind the local Caddy, uvicorn has already taken it from X-Forwarded-For."""
    return request.client.host if request.client else 'unknown'


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({'status': 'ok'})


async def readyz(request: Request) -> JSONResponse:
    """Ready once a usable config (one whose provider has a key) is loaded; never calls the model."""
    state: RuntimeState = request.app.state.runtime
    if state.active is None:
        reason = state.problem or state.control_problem or 'no configuration received from AgentHost yet'
        return JSONResponse({'status': 'not_ready', 'reason': reason}, status_code=503)
    return JSONResponse({'status': 'ready', 'revision': state.active.config.revision})


def authorised(request: Request) -> Active:
    """The active config, if the bearer is one of its keys; failures count towards the caller's 429."""
    state: RuntimeState = request.app.state.runtime
    limiter: FailureLimiter = request.app.state.limiter
    address = client_address(request)
    limiter.refuse_if_blocked(address)
    active = state.active
    if active is None:
        raise RuntimeApiError(503, 'the agent has no configuration yet; try again shortly', kind='api_error',
                              code='not_ready')
    presented = bearer_of(request.headers.get('authorization'))
    key_id = key_id_for(presented, active.config)
    if key_id is None:
        limiter.record_failure(address)
        raise invalid_key('missing API key' if presented is None else 'invalid or revoked API key')
    state.usage.key_used(key_id)
    return active


async def models(request: Request) -> JSONResponse:
    active = authorised(request)
    return JSONResponse({'object': 'list', 'data': [{'id': active.config.model, 'object': 'model', 'created': 0,
                                                     'owned_by': 'agenthost'}]})


def completion_id() -> str:
    return f'chatcmpl-{uuid.uuid4().hex}'


def usage_of(input_tokens: int, output_tokens: int) -> dict:
    return {'prompt_tokens': input_tokens, 'completion_tokens': output_tokens,
            'total_tokens': input_tokens + output_tokens}


@contextlib.contextmanager
def counted_provider_call(state: RuntimeState) -> Iterator[None]:
    """A model call's outcome feeds the runtime's health: several failures in a row make it `degraded`."""
    try:
        yield
    except RuntimeApiError as error:
        if error.status == 502:
            state.provider_failed(error.message)
        raise
    state.provider_answered()


async def complete(state: RuntimeState, active: Active, chat: ChatRequest) -> JSONResponse:
    with counted_provider_call(state):
        reply = await active.provider.complete(chat)
    state.usage.add(reply.input_tokens, reply.output_tokens)
    log.info('answered a chat request: %s input and %s output tokens', reply.input_tokens, reply.output_tokens)
    return JSONResponse({'id': completion_id(), 'object': 'chat.completion', 'created': int(time.time()),
                         'model': active.config.model,
                         'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': reply.text},
                                      'logprobs': None, 'finish_reason': reply.finish_reason}],
                         'usage': usage_of(reply.input_tokens, reply.output_tokens)})


def sse(data: dict | str) -> bytes:
    return f'data: {data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))}\n\n'.encode()


PLACEHOLDER = '\x00'


def content_event_halves(base: dict, usage_field: dict) -> tuple[bytes, bytes]:
    """A text chunk's event around its text, serialised once: every token of the answer repeats the rest."""
    event = sse({**base, 'choices': [{'index': 0, 'delta': {'content': PLACEHOLDER}, 'finish_reason': None}],
                 **usage_field})
    before, after = event.split(json.dumps(PLACEHOLDER).encode())
    return before, after


async def chunks(state: RuntimeState, model: str, chat: ChatRequest, deltas: AsyncIterator[Delta]) -> AsyncIterator[
        bytes]:
    """OpenAI's chat.completion.chunk events; a failure mid-stream becomes an error event, as OpenAI sends one."""
    base = {'id': completion_id(), 'object': 'chat.completion.chunk', 'created': int(time.time()), 'model': model}
    usage_field = {'usage': None} if chat.include_usage else {}
    yield sse({**base, 'choices': [{'index': 0, 'delta': {'role': 'assistant', 'content': ''},
                                    'finish_reason': None}], **usage_field})
    before, after = content_event_halves(base, usage_field)
    try:
        async for delta in deltas:
            if delta.finish_reason is None:
                yield before + json.dumps(delta.text).encode() + after
                continue
            state.usage.add(delta.input_tokens, delta.output_tokens)
            log.info('streamed a chat answer: %s input and %s output tokens', delta.input_tokens,
                     delta.output_tokens)
            yield sse({**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': delta.finish_reason}],
                       **usage_field})
            if chat.include_usage:
                yield sse({**base, 'choices': [], 'usage': usage_of(delta.input_tokens, delta.output_tokens)})
    except RuntimeApiError as error:
        state.provider_failed(error.message)
        yield sse(error.body())
        return
    except Exception as error:  # noqa: BLE001 — the SDKs let transport errors out of a started stream unwrapped
        broke_off = provider_failed(f'the model provider stream broke off: {type(error).__name__}')
        state.provider_failed(broke_off.message)
        yield sse(broke_off.body())
        return
    state.provider_answered()
    yield sse('[DONE]')


async def chat_completions(request: Request) -> Response:
    state: RuntimeState = request.app.state.runtime
    active = authorised(request)
    chat = chat_request_of(await read_body(request))
    if not chat.stream:
        return await complete(state, active, chat)
    with counted_provider_call(state):
        deltas = await active.provider.open_stream(chat)
    return StreamingResponse(chunks(state, active.config.model, chat, deltas), media_type='text/event-stream',
                             headers={'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no'})


async def runtime_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RuntimeApiError)
    return error_response(error)


async def unexpected(request: Request, error: Exception) -> Response:
    log.exception('unexpected error on %s', request.url.path, exc_info=error)
    return error_response(RuntimeApiError(500, 'the runtime failed unexpectedly; see its log', kind='api_error',
                                          code='internal_error'))


async def not_found(request: Request, error: Exception) -> Response:
    return error_response(RuntimeApiError(404, f'no route {request.method} {request.url.path}', code='not_found'))


async def method_not_allowed(request: Request, error: Exception) -> Response:
    return error_response(RuntimeApiError(405, f'{request.method} is not allowed on {request.url.path}',
                                          code='method_not_allowed'))


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """Starts the config long poll, the heartbeats and the log shipping; they run as long as the process serves.
    The log book takes the root logger's lines for that long."""
    state: RuntimeState = app.state.runtime
    book: LogBook = app.state.logbook
    token = os.environ.get('AGENTHOST_RUNTIME_TOKEN', '')
    book.remember_secret(token)
    state.secret_keepers.append(book.remember_secret)
    logging.getLogger().addHandler(book)
    client = control_client(os.environ.get('AGENTHOST_URL', 'http://127.0.0.1:8000'), token)
    state.spawn(poll_config_forever(state, client))
    state.spawn(heartbeat_forever(state, client))
    state.spawn(ship_logs_forever(book, state.boot_id, client))
    log.info('runtime started (boot %s)', state.boot_id)
    try:
        yield
    finally:
        for task in list(state.background):
            task.cancel()
        await client.aclose()
        logging.getLogger().removeHandler(book)


def create_app() -> Starlette:
    app = Starlette(routes=[
        Route('/healthz', healthz),
        Route('/readyz', readyz),
        Route('/v1/models', models),
        Route('/v1/chat/completions', chat_completions, methods=['POST']),
    ], exception_handlers={RuntimeApiError: runtime_error, 404: not_found, 405: method_not_allowed,
                         Exception: unexpected},
        lifespan=lifespan)
    app.state.runtime = RuntimeState()
    app.state.logbook = LogBook()
    app.state.limiter = FailureLimiter()
    return app
