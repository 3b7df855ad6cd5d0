"""`POST /api/provisioning/callback`: the workflow's signed progress reports."""
from fastapi import APIRouter, Request
from nicegui import run

from services.provisioning import callbacks

router = APIRouter(prefix='/api/provisioning', tags=['provisioning'])


@router.post('/callback')
async def provisioning_callback(request: Request) -> dict:
    body = await request.body()  # the signature covers the raw bytes
    return await run.io_bound(callbacks.receive_callback, body, request.headers.get('x-agenthost-signature'))
