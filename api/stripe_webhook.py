"""`POST /api/webhooks/stripe`: verify, store, answer — processing follows off the request."""
from fastapi import APIRouter
from nicegui import run

from services.billing import stripe_webhooks

from . import fast_lane, schemas

router = APIRouter(prefix='/api/webhooks', tags=['webhooks'], responses=schemas.ERRORS)


@fast_lane.direct(router, 'POST', '/stripe', response_model=schemas.WebhookReceipt)
async def receive_stripe_event(call: fast_lane.DirectCall) -> dict:
    """Stripe's signed event (`Stripe-Signature`); answered as it is stored. The hottest path: the direct lane."""
    receipt = await run.io_bound(stripe_webhooks.receive, payload=call.body,
                                 signature=call.headers.get('stripe-signature'), headers=dict(call.headers))
    return {'received': True, 'duplicate': not receipt.is_new}
