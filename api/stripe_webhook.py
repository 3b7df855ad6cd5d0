"""`POST /api/webhooks/stripe`: verify, store, answer — processing follows off the request."""
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from nicegui import run

from services.billing import stripe_webhooks

from . import fast_lane, schemas

router = APIRouter(prefix='/api/webhooks', tags=['webhooks'], responses=schemas.ERRORS)


@router.post('/stripe', response_model=schemas.WebhookReceipt)
@fast_lane.direct('POST', '/api/webhooks/stripe')
async def receive_stripe_event(request: Request) -> JSONResponse:
    """Stripe's signed event (`Stripe-Signature`); answered as it is stored, without checking the answer's shape:
    this is the hottest path, so it takes the direct lane."""
    payload = await request.body()
    receipt = await run.io_bound(stripe_webhooks.receive, payload=payload,
                                 signature=request.headers.get('stripe-signature'), headers=dict(request.headers))
    return JSONResponse({'received': True, 'duplicate': not receipt.is_new})
