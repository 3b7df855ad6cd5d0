"""Cross-site request forgery: a browser sends its session cookie with requests that other sites start.

A write made with the session cookie must therefore come from AgentHost's own pages: its `Origin` is this app's
(`PUBLIC_URL`, or the address the request itself was sent to), or, when a browser sends no `Origin`, its
`Sec-Fetch-Site` says `same-origin`. A body must be JSON: HTML forms and `text/plain` are the bodies other sites can
send without asking. Requests with an API token carry no ambient credential and are not affected.
"""
from urllib.parse import urlsplit

from fastapi import Request

from services.platform.errors import DomainError
from services.platform.settings import get_settings

WRITE_METHODS = frozenset({'POST', 'PUT', 'PATCH', 'DELETE'})


def is_same_origin(request: Request) -> bool:
    origin = request.headers.get('origin')
    if origin is None:
        return request.headers.get('sec-fetch-site') == 'same-origin'
    parts = urlsplit(origin)
    public = urlsplit(get_settings().public_url)
    if (parts.scheme, parts.netloc) == (public.scheme, public.netloc):
        return True
    return parts.scheme in ('http', 'https') and bool(parts.netloc) and parts.netloc == request.headers.get('host')


def has_body(request: Request) -> bool:
    length = request.headers.get('content-length')
    return 'transfer-encoding' in request.headers or (length is not None and length.strip() not in ('', '0'))


def is_json(request: Request) -> bool:
    media_type = request.headers.get('content-type', '').split(';', 1)[0].strip().lower()
    return media_type == 'application/json'


def check_session_write(request: Request) -> None:
    """Refuse a write made with the browser session unless it comes from this site with a JSON body."""
    if request.method not in WRITE_METHODS:
        return
    if not is_same_origin(request):
        raise DomainError('CROSS_SITE_REQUEST', 'A browser session may change data only from the pages of this site. '
                          'Scripts send an API token as "Authorization: Bearer <token>".')
    if has_body(request) and not is_json(request):
        raise DomainError('UNSUPPORTED_MEDIA_TYPE', 'Send the body as JSON, with "Content-Type: application/json".')
