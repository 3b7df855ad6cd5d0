"""Reading JSON request bodies into clear INVALID_JSON errors instead of framework tracebacks."""
import json

from fastapi import Request

from services.errors import DomainError


async def read_json(request: Request) -> dict:
    raw = await request.body()
    try:
        body = json.loads(raw or b'{}')
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DomainError('INVALID_JSON', f'The body is not valid JSON: {error}.') from None
    if not isinstance(body, dict):
        raise DomainError('INVALID_JSON', 'The body must be a JSON object.')
    return body
