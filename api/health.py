"""Liveness for operators and load balancers."""
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from nicegui import run

from services import health

router = APIRouter(tags=['health'])


@router.get('/healthz')
async def healthz() -> JSONResponse:
    problem = await run.io_bound(health.database_problem)
    if problem:
        return JSONResponse({'status': 'error', 'database': problem}, status_code=503)
    return JSONResponse({'status': 'ok'})
