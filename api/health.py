"""Liveness for operators and load balancers; a signed-in admin also sees what the app runs on."""
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from nicegui import app, run

from services import health

router = APIRouter(tags=['health'])


@router.get('/healthz')
async def healthz() -> JSONResponse:
    report = await run.io_bound(health.report, user_id=app.storage.user.get('user_id'))
    return JSONResponse(report, status_code=200 if report['status'] == 'ok' else 503)
