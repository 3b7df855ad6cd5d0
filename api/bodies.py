"""Reading JSON request bodies into clear INVALID_JSON errors instead of framework tracebacks."""
from fastapi import Request

from services.platform.inputs import parse_json_object


async def read_json(request: Request) -> dict:
    """The body as one JSON object, bounded in depth and number size (see `services.platform.inputs.parse_json`)."""
    return parse_json_object(await request.body())
