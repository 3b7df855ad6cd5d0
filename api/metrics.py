"""`GET /metrics`: Prometheus text format, without login (scrape it from a trusted network or behind the proxy)."""
from fastapi import APIRouter
from fastapi.responses import Response
from nicegui import run

from services import metrics

router = APIRouter(tags=['metrics'])


@router.get('/metrics')
async def scrape() -> Response:
    return Response(await run.io_bound(metrics.exposition), media_type=metrics.CONTENT_TYPE)
