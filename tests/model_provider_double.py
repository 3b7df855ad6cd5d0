"""A model provider test double: Anthropic's Messages API and OpenAI's Chat Completions API over real HTTP.

It answers deterministically from what it was asked (the model, the system prompt(s) in order and the last user
message, echoed), streams both APIs' server-sent events, reports usage, records every request, and can be told to
fail the next requests (a status with a message, or a delay past the client's timeout). Point the Anthropic SDK at
`double.url` and the OpenAI SDK at `double.openai_url`.
"""
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest

from tests.http_double import HttpDouble, send_json

ANTHROPIC_ERROR_TYPES = {400: 'invalid_request_error', 401: 'authentication_error', 429: 'rate_limit_error',
                         500: 'api_error', 529: 'overloaded_error'}
OPENAI_ERROR_TYPES = {400: 'invalid_request_error', 401: 'invalid_request_error', 429: 'rate_limit_exceeded',
                      500: 'server_error'}


@dataclass
class Failure:
    """How to answer one request instead of normally: `status` with `message`, after `delay` seconds; or, with
    `stall`, a stream that starts and then falls silent for that long after its first piece."""
    status: int = 500
    message: str = 'the model is on fire'
    delay: float = 0.0
    stall: float = 0.0


@dataclass
class Asked:
    path: str
    headers: dict[str, str]
    body: dict
    at: float = field(default_factory=time.monotonic)


def words(text: str) -> int:
    return len(text.split())


def echo(model: str, systems: list[str], last_user: str) -> str:
    return f'model={model} system={" | ".join(systems)} user={last_user}'


def pieces(text: str) -> list[str]:
    """The answer cut at word boundaries, spaces kept, so the streamed pieces join to exactly the plain answer."""
    parts = text.split(' ')
    return [part if index == 0 else ' ' + part for index, part in enumerate(parts)]


class ModelProviderDouble(HttpDouble):
    name = 'model-provider-double'

    def __init__(self, *, padding_words: int = 0, piece_delay: float = 0.0) -> None:
        self.requests: list[Asked] = []
        self.failures: list[Failure] = []
        self.required_key: str | None = None
        """When set, the model list answers 401 to any other key (the setup checklist's live check)."""
        self.padding_words = padding_words
        self.piece_delay = piece_delay
        self.lock = threading.Lock()
        self.serve()
        self.openai_url = f'{self.url}/v1'

    def close(self) -> None:
        self.stop_serving()

    def on_get(self, request: BaseHTTPRequestHandler) -> None:
        self.answer_models(request)

    def on_post(self, request: BaseHTTPRequestHandler) -> None:
        self.answer(request)

    def fail_next(self, *failures: Failure) -> None:
        with self.lock:
            self.failures.extend(failures)

    def asked(self, path: str) -> list[Asked]:
        with self.lock:
            return [request for request in self.requests if request.path == path]

    def answer_text(self, model: str, systems: list[str], last_user: str) -> str:
        return echo(model, systems, last_user) + ' lorem' * self.padding_words

    def next_failure(self) -> Failure | None:
        with self.lock:
            return self.failures.pop(0) if self.failures else None

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        body = json.loads(handler.rfile.read(int(handler.headers.get('Content-Length', 0))) or b'{}')
        path = handler.path.split('?')[0]
        with self.lock:
            self.requests.append(Asked(path, {name.lower(): value for name, value in handler.headers.items()}, body))
        failure = self.next_failure()
        if failure is not None:
            time.sleep(failure.delay)
        if path == '/v1/messages':
            self.answer_anthropic(handler, body, failure)
        elif path == '/v1/chat/completions':
            self.answer_openai(handler, body, failure)
        else:
            send_json(handler, 404, {'error': {'message': f'no route {path}', 'type': 'not_found'}})

    def answer_models(self, handler: BaseHTTPRequestHandler) -> None:
        presented = handler.headers.get('x-api-key') or handler.headers.get('authorization', '').removeprefix('Bearer ')
        if self.required_key is not None and presented != self.required_key:
            send_json(handler, 401, {'error': {'message': 'invalid x-api-key', 'type': 'authentication_error'}})
            return
        if (failure := self.next_failure()) is not None:
            send_json(handler, failure.status, {'error': {'message': failure.message, 'type': 'api_error'}})
            return
        send_json(handler, 200, {'object': 'list', 'data': [{'id': 'gpt-double', 'object': 'model',
                                                             'owned_by': 'double'}]})

    def answer_anthropic(self, handler: BaseHTTPRequestHandler, body: dict, failure: Failure | None) -> None:
        if failure is not None:
            error_type = ANTHROPIC_ERROR_TYPES.get(failure.status, 'api_error')
            send_json(handler, failure.status, {'type': 'error', 'error': {'type': error_type,
                                                                           'message': failure.message}})
            return
        system = body.get('system') or ''
        system_text = system if isinstance(system, str) else ''.join(block.get('text', '') for block in system)
        users = [message['content'] for message in body['messages'] if message['role'] == 'user']
        last_user = users[-1] if users and isinstance(users[-1], str) else ''
        text = self.answer_text(body['model'], [system_text], last_user)
        input_tokens = words(system_text) + sum(words(str(message['content'])) for message in body['messages'])
        if body.get('stream'):
            self.stream_anthropic(handler, body['model'], text, input_tokens)
            return
        send_json(handler, 200, {'id': f'msg_{uuid.uuid4().hex}', 'type': 'message', 'role': 'assistant',
                                 'model': body['model'], 'content': [{'type': 'text', 'text': text}],
                                 'stop_reason': 'end_turn', 'stop_sequence': None,
                                 'usage': {'input_tokens': input_tokens, 'output_tokens': words(text)}})

    def stream_anthropic(self, handler: BaseHTTPRequestHandler, model: str, text: str, input_tokens: int) -> None:
        start_stream(handler)
        message = {'id': f'msg_{uuid.uuid4().hex}', 'type': 'message', 'role': 'assistant', 'model': model,
                   'content': [], 'stop_reason': None, 'stop_sequence': None,
                   'usage': {'input_tokens': input_tokens, 'output_tokens': 1}}
        send_event(handler, {'type': 'message_start', 'message': message}, event='message_start')
        send_event(handler, {'type': 'content_block_start', 'index': 0, 'content_block': {'type': 'text', 'text': ''}},
                   event='content_block_start')
        send_event(handler, {'type': 'ping'}, event='ping')
        for piece in pieces(text):
            time.sleep(self.piece_delay)
            send_event(handler, {'type': 'content_block_delta', 'index': 0,
                                 'delta': {'type': 'text_delta', 'text': piece}}, event='content_block_delta')
        send_event(handler, {'type': 'content_block_stop', 'index': 0}, event='content_block_stop')
        send_event(handler, {'type': 'message_delta', 'delta': {'stop_reason': 'end_turn', 'stop_sequence': None},
                             'usage': {'output_tokens': words(text)}}, event='message_delta')
        send_event(handler, {'type': 'message_stop'}, event='message_stop')
        end_stream(handler)

    def answer_openai(self, handler: BaseHTTPRequestHandler, body: dict, failure: Failure | None) -> None:
        stall = failure.stall if failure is not None else 0.0
        if failure is not None and not stall:
            send_json(handler, failure.status, {'error': {'message': failure.message, 'param': None, 'code': None,
                                                          'type': OPENAI_ERROR_TYPES.get(failure.status, 'error')}})
            return
        systems = [message['content'] for message in body['messages'] if message['role'] in ('system', 'developer')]
        users = [message['content'] for message in body['messages'] if message['role'] == 'user']
        text = self.answer_text(body['model'], systems, users[-1] if users else '')
        input_tokens = sum(words(str(message['content'])) for message in body['messages'])
        if body.get('stream'):
            include_usage = bool((body.get('stream_options') or {}).get('include_usage'))
            self.stream_openai(handler, body['model'], text, input_tokens, include_usage, stall)
            return
        send_json(handler, 200, {'id': f'chatcmpl-{uuid.uuid4().hex}', 'object': 'chat.completion',
                                 'created': int(time.time()), 'model': body['model'],
                                 'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': text},
                                              'logprobs': None, 'finish_reason': 'stop'}],
                                 'usage': {'prompt_tokens': input_tokens, 'completion_tokens': words(text),
                                           'total_tokens': input_tokens + words(text)}})

    def stream_openai(self, handler: BaseHTTPRequestHandler, model: str, text: str, input_tokens: int,
                      include_usage: bool, stall: float = 0.0) -> None:
        start_stream(handler)
        base = {'id': f'chatcmpl-{uuid.uuid4().hex}', 'object': 'chat.completion.chunk', 'created': int(time.time()),
                'model': model}
        usage_field = {'usage': None} if include_usage else {}
        send_event(handler, {**base, 'choices': [{'index': 0, 'delta': {'role': 'assistant', 'content': ''},
                                                  'finish_reason': None}], **usage_field})
        for index, piece in enumerate(pieces(text)):
            time.sleep(stall if index == 1 else self.piece_delay)
            send_event(handler, {**base, 'choices': [{'index': 0, 'delta': {'content': piece},
                                                      'finish_reason': None}], **usage_field})
        send_event(handler, {**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}], **usage_field})
        if include_usage:
            send_event(handler, {**base, 'choices': [], 'usage': {
                'prompt_tokens': input_tokens, 'completion_tokens': words(text),
                'total_tokens': input_tokens + words(text)}})
        send_chunk(handler, b'data: [DONE]\n\n')
        end_stream(handler)


def start_stream(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header('Content-Type', 'text/event-stream')
    handler.send_header('Cache-Control', 'no-cache')
    handler.send_header('Transfer-Encoding', 'chunked')
    handler.end_headers()


def send_chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.wfile.write(b'%x\r\n%s\r\n' % (len(data), data))
    handler.wfile.flush()


def send_event(handler: BaseHTTPRequestHandler, payload: dict, *, event: str | None = None) -> None:
    prefix = f'event: {event}\n' if event else ''
    send_chunk(handler, f'{prefix}data: {json.dumps(payload)}\n\n'.encode())


def end_stream(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b'0\r\n\r\n')
    handler.wfile.flush()


@pytest.fixture
def provider() -> Iterator[ModelProviderDouble]:
    """A fresh double of both providers for one test."""
    double = ModelProviderDouble()
    yield double
    double.close()
