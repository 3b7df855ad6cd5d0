"""`POST /api/webhooks/stripe`: verify, store, answer — processing follows off the request."""
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from nicegui import run

from services.billing import stripe_webhooks

router = APIRouter(prefix='/api/webhooks', tags=['webhooks'])


@router.post('/stripe')
async def receive_stripe_event(request: Request) -> JSONResponse:
    payload = await request.body()
    receipt = await run.io_bound(stripe_webhooks.receive, payload=payload,
                                 signature=request.headers.get('stripe-signature'), headers=dict(request.headers))
    return JSONResponse({'received': True, 'duplicate': not receipt.is_new})
