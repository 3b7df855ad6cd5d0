"""`POST /api/webhooks/github`: GitHub's `workflow_run` events, the safety net for runs that never report."""
from fastapi import APIRouter, Request
from nicegui import run

from services.provisioning import callbacks

from . import schemas

router = APIRouter(prefix='/api/webhooks', tags=['webhooks'], responses=schemas.ERRORS)


@router.post('/github', response_model=schemas.WebhookReceipt)
async def github_webhook(request: Request) -> dict:
    body = await request.body()  # the signature covers the raw bytes
    return await run.io_bound(callbacks.receive_github_webhook, body, dict(request.headers))
