"""Liveness for operators and load balancers; a signed-in admin also sees what the app runs on."""
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from nicegui import app, run

from services.platform import health

router = APIRouter(tags=['health'])


@router.get('/healthz')
async def healthz(request: Request) -> JSONResponse:
    # Load balancers come through the fast lane without a session; only a browser's request carries one.
    user_id = app.storage.user.get('user_id') if 'session' in request.scope else None
    report = await run.io_bound(health.report, user_id=user_id)
    return JSONResponse(report, status_code=200 if report['status'] == 'ok' else 503)
