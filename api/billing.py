"""JSON API for the account's billing."""
from fastapi import APIRouter, Request
from nicegui import run

from services.billing import billing

from . import schemas
from .agents import iso
from .auth import CurrentUser
from .bodies import read_json

router = APIRouter(prefix='/api/billing', tags=['billing'], responses=schemas.ERRORS)


@router.get('', response_model=schemas.Billing)
async def billing_summary(user: CurrentUser) -> dict:
    summary = await run.io_bound(billing.summary, user)
    return {**summary, 'period_end': iso(summary['period_end'])}


@router.post('/checkout', response_model=schemas.RedirectUrl, openapi_extra=schemas.body(schemas.CheckoutRequest))
async def start_checkout(user: CurrentUser, request: Request) -> dict:
    body = await read_json(request)
    url = await run.io_bound(billing.start_checkout, user=user, plan=body.get('plan'), agent_id=body.get('agent_id'))
    return {'url': url}


@router.post('/portal', response_model=schemas.RedirectUrl)
async def open_portal(user: CurrentUser) -> dict:
    return {'url': await run.io_bound(billing.open_portal, user=user)}
