"""`GET /metrics`: Prometheus text format. With METRICS_TOKEN set it needs `Authorization: Bearer <token>`; without
it, it answers anyone who reaches it (the shipped Caddy recipe keeps it off the public internet)."""
import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response
from nicegui import run

from services.platform import metrics
from services.platform.settings import get_settings

router = APIRouter(tags=['metrics'])


def scrape_allowed(authorization: str) -> bool:
    """True without a configured token, else only for that bearer token (compared in constant time)."""
    token = get_settings().metrics_token
    if not token:
        return True
    scheme, _, presented = authorization.partition(' ')
    return scheme.lower() == 'bearer' and hmac.compare_digest(presented.strip().encode(), token.encode())


@router.get('/metrics')
async def scrape(request: Request) -> Response:
    if not scrape_allowed(request.headers.get('authorization', '')):
        return Response('metrics need Authorization: Bearer <METRICS_TOKEN>\n', status_code=401,
                        media_type='text/plain', headers={'WWW-Authenticate': 'Bearer'})
    return Response(await run.io_bound(metrics.exposition), media_type=metrics.CONTENT_TYPE)
