"""The workflow's signed calls: `POST /api/provisioning/callback` (progress reports) and
`POST /api/provisioning/bootstrap` (the runtime token of the server it creates)."""
from fastapi import APIRouter, Request
from nicegui import run

from services.provisioning import callbacks
from services.runtime import bootstrap

from . import schemas

router = APIRouter(prefix='/api/provisioning', tags=['provisioning'], responses=schemas.ERRORS)


@router.post('/callback', response_model=schemas.CallbackAnswer, openapi_extra=schemas.body(schemas.CallbackRequest))
async def provisioning_callback(request: Request) -> dict:
    body = await request.body()  # the signature covers the raw bytes
    return await run.io_bound(callbacks.receive_callback, body, request.headers.get('x-agenthost-signature'))


@router.post('/bootstrap', response_model=schemas.BootstrapAnswer, openapi_extra=schemas.body(schemas.JobIdRequest))
async def provisioning_bootstrap(request: Request) -> dict:
    body = await request.body()  # the signature covers the raw bytes
    return await run.io_bound(bootstrap.bootstrap, body, request.headers.get('x-agenthost-signature'))
