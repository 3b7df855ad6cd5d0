"""What a chat request may be: its size, its shape, its roles; turned into one validated ChatRequest."""
import json
from dataclasses import dataclass

from starlette.requests import Request

from .errors import RuntimeApiError, bad_request

MAX_BODY_BYTES = 1024 * 1024
MAX_MESSAGE_CHARACTERS = 200_000
ROLES = ('system', 'developer', 'user', 'assistant')
DEFAULT_MAX_TOKENS = 1024


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[Message, ...]
    stream: bool
    include_usage: bool
    max_tokens: int | None
    temperature: float | None


async def read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it passes the limit (a lying Content-Length included)."""
    too_large = RuntimeApiError(413, f'request body is larger than {MAX_BODY_BYTES} bytes', code='request_too_large')
    declared = request.headers.get('content-length', '')
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise too_large
    return bytes(body)


def parse_json(body: bytes) -> dict:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise bad_request(f'the body is not valid JSON: {error}') from None
    if not isinstance(payload, dict):
        raise bad_request('the body must be a JSON object')
    return payload


def text_of(content: object, where: str) -> str:
    """A message's text: a string, or OpenAI's list of {"type": "text", "text": …} parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(part, dict) and part.get('type') == 'text'
                                         and isinstance(part.get('text'), str) for part in content):
        return ''.join(part['text'] for part in content)
    raise bad_request(f'{where}.content must be a string or a list of text parts', param=f'{where}.content')


def message_at(index: int, entry: object) -> Message:
    where = f'messages[{index}]'
    if not isinstance(entry, dict):
        raise bad_request(f'{where} must be an object with role and content', param=where)
    role = entry.get('role')
    if role not in ROLES:
        raise bad_request(f'{where}.role {role!r} is not supported; use one of {", ".join(ROLES)}',
                          param=f'{where}.role')
    return Message('system' if role == 'developer' else role, text_of(entry.get('content'), where))


def messages_of(payload: dict) -> tuple[Message, ...]:
    entries = payload.get('messages')
    if not isinstance(entries, list) or not entries:
        raise bad_request('messages must be a non-empty list', param='messages')
    messages = tuple(message_at(index, entry) for index, entry in enumerate(entries))
    if all(message.role == 'system' for message in messages):
        raise bad_request('messages must hold at least one user or assistant message', param='messages')
    total = sum(len(message.content) for message in messages)
    if total > MAX_MESSAGE_CHARACTERS:
        raise bad_request(f'messages hold {total} characters; this agent accepts at most {MAX_MESSAGE_CHARACTERS} '
                          f'per request', param='messages', code='context_length_exceeded')
    return messages


def max_tokens_of(payload: dict) -> int | None:
    for name in ('max_completion_tokens', 'max_tokens'):
        value = payload.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise bad_request(f'{name} must be a positive integer', param=name)
        return value
    return None


def temperature_of(payload: dict) -> float | None:
    value = payload.get('temperature')
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 2:
        raise bad_request('temperature must be a number from 0 to 2', param='temperature')
    return float(value)


def stream_flags_of(payload: dict) -> tuple[bool, bool]:
    stream = payload.get('stream', False)
    if not isinstance(stream, bool):
        raise bad_request('stream must be true or false', param='stream')
    options = payload.get('stream_options') or {}
    if not isinstance(options, dict):
        raise bad_request('stream_options must be an object', param='stream_options')
    return stream, bool(options.get('include_usage')) and stream


def chat_request_of(body: bytes) -> ChatRequest:
    payload = parse_json(body)
    stream, include_usage = stream_flags_of(payload)
    return ChatRequest(messages=messages_of(payload), stream=stream, include_usage=include_usage,
                       max_tokens=max_tokens_of(payload), temperature=temperature_of(payload))
