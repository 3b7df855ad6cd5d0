"""`POST /api/webhooks/stripe`: verify, store, answer — processing follows off the request."""
from fastapi import APIRouter

from services.billing import stripe_webhooks
from services.platform.logs import request_id

from . import fast_lane, schemas

router = APIRouter(prefix='/api/webhooks', tags=['webhooks'], responses=schemas.ERRORS)


@fast_lane.direct(router, 'POST', '/stripe', response_model=schemas.WebhookReceipt)
async def receive_stripe_event(call: fast_lane.DirectCall) -> dict:
    """Stripe's signed event (`Stripe-Signature`); answered as it is stored. The hottest path: the direct lane."""
    receipt = await stripe_webhooks.intake.submit(stripe_webhooks.Delivery(
        call.body, call.headers.get('stripe-signature'), dict(call.headers), request_id.get()))
    return {'received': True, 'duplicate': not receipt.is_new}
