"""A Stripe test double that speaks Stripe's HTTP API over real HTTP, keeps state, and signs webhooks like Stripe.

It is as strict as Stripe where AgentHost could go wrong: request bodies must be form-encoded (a JSON body gets
Stripe's 400), failures carry `Stripe-Should-Retry` as Stripe's do (so the SDK's own retries run), subscription
lists honour their filters, and each plan's price id has its own price object and amount. It serves Stripe's object
shapes after API 2025-03-31 (an invoice names its subscription under `parent.subscription_details`) and Stripe's
error JSON. Tests drive what happens on Stripe's side with `complete_checkout`, `set_subscription_status` and
friends, then deliver the resulting events with `deliver`. An exception inside the double fails the test that caused
it.
"""
import asyncio
import contextlib
import copy
import hashlib
import hmac
import itertools
import json
import re
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl

import httpx
import pytest
import stripe
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

API_KEY = 'sk_test_double'
WEBHOOK_SECRET = 'whsec_double_secret'
PRICES = {'starter': 'price_starter', 'pro': 'price_pro', 'business': 'price_business', 'agent': 'price_agent'}
AMOUNTS = {'price_starter': 9900, 'price_pro': 19900, 'price_business': 29900, 'price_agent': 4900}
"""Monthly amounts in cents, per price id (the plans' defaults; one agent of its own in per_agent mode)."""
MONTH = 30 * 24 * 3600
FORM_ONLY = ('Invalid request (check that your POST content type is application/x-www-form-urlencoded). If you '
             'have any questions, we can help at https://support.stripe.com/.')
SUBSCRIPTION_STATUSES = ('incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid',
                         'paused')


def parse_form(body: str) -> dict:
    """Stripe's form encoding (`line_items[0][price]=…`) back into nested dicts and lists."""
    root: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r'[^\[\]]+', key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _with_lists(root)


def _with_lists(node):
    if not isinstance(node, dict):
        return node
    node = {key: _with_lists(value) for key, value in node.items()}
    if node and all(key.isdigit() for key in node):
        return [node[key] for key in sorted(node, key=int)]
    return node


def stripe_error(status: int, message: str, *, kind: str = 'invalid_request_error', code: str | None = None,
                 param: str | None = None, should_retry: bool | None = None) -> JSONResponse:
    """Stripe's error JSON; like Stripe, it says whether a retry can help (yes for its own 5xx and conflicts)."""
    body = {'error': {'type': kind, 'message': message}}
    if code:
        body['error']['code'] = code
    if param:
        body['error']['param'] = param
    retry = (status >= 500 or status == 409) if should_retry is None else should_retry
    return JSONResponse(body, status_code=status, headers={'Stripe-Should-Retry': 'true' if retry else 'false',
                                                           'Request-Id': 'req_double'})


class Hold:
    """Keeps one matching request waiting, as a slow network would: the answer is what Stripe had on arrival."""

    def __init__(self, method: str, path: str) -> None:
        self.method, self.path = method, path
        self.arrived = threading.Event()
        self.released = threading.Event()

    def release(self) -> None:
        self.released.set()


class StripeDouble:
    def __init__(self) -> None:
        self.base_url = ''
        self.customers: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}
        self.subscriptions: dict[str, dict] = {}
        self.prices = {price_id: self._price(price_id) for price_id in PRICES.values()}
        self.requests: list[tuple[str, str, dict]] = []
        self.failures: list[int] = []
        self.holds: list[Hold] = []
        self.errors: list[str] = []
        """Tracebacks of exceptions raised inside the double; the fixture fails the test when there are any."""
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.routes = Starlette(routes=[
            Route('/v1/checkout/sessions', self.create_session, methods=['POST']),
            Route('/v1/checkout/sessions/{id}', self.get_session, methods=['GET']),
            Route('/v1/billing_portal/sessions', self.create_portal_session, methods=['POST']),
            Route('/v1/subscriptions', self.list_subscriptions, methods=['GET']),
            Route('/v1/subscriptions/{id}', self.get_subscription, methods=['GET']),
            Route('/v1/subscriptions/{id}', self.cancel_subscription, methods=['DELETE']),
            Route('/v1/prices/{id}', self.get_price, methods=['GET']),
            Route('/v1/account', self.get_account, methods=['GET']),
            Route('/{path:path}', self.unknown, methods=['GET', 'POST', 'DELETE']),
        ], exception_handlers={Exception: self._failed})

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The routes; an exception of the double's own is kept for the fixture, which fails the test with it."""
        with contextlib.suppress(Exception):  # already answered and recorded by `_failed`
            await self.routes(scope, receive, send)

    async def _failed(self, _request: Request, error: Exception) -> JSONResponse:
        """A bug in the double: keep it for the test, and answer in Stripe's shape rather than drop the connection."""
        self.errors.append(''.join(traceback.format_exception(error)))
        return stripe_error(500, 'The Stripe test double failed; see the test output.', kind='api_error',
                            should_retry=False)

    # --- Stripe's side of the story, driven by tests -------------------------------------------------------

    def complete_checkout(self, session_id: str, *, status: str = 'active') -> list[dict]:
        """The customer pays: a customer and a subscription appear, the session completes; returns the events."""
        with self._lock:
            session = self.sessions[session_id]
            customer_id = session['customer'] or self._create_customer(session.get('customer_email'))
            price_id = session['line_items'][0]['price']
            subscription = self._create_subscription(customer_id, price_id,
                                                     session['subscription_data'].get('metadata', {}), status)
            session.update(status='complete', payment_status='paid', customer=customer_id,
                           subscription=subscription['id'])
            return [self.event('customer.subscription.created', subscription),
                    self.event('checkout.session.completed', self._public_session(session)),
                    self.event('invoice.paid', self._invoice(subscription))]

    def set_subscription_status(self, subscription_id: str, status: str, *,
                                cancel_at_period_end: bool | None = None) -> dict:
        """Change a subscription the way Stripe would; returns the matching event."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription['status'] = status
            if cancel_at_period_end is not None:
                subscription['cancel_at_period_end'] = cancel_at_period_end
            if status == 'canceled':
                subscription['ended_at'] = subscription['canceled_at'] = int(time.time())
                return self.event('customer.subscription.deleted', subscription)
            return self.event('customer.subscription.updated', subscription)

    def change_price(self, subscription_id: str, plan: str) -> dict:
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription['items']['data'][0]['price'] = copy.deepcopy(self.prices[PRICES[plan]])
            return self.event('customer.subscription.updated', subscription)

    def payment_failed(self, subscription_id: str) -> dict:
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription['status'] = 'past_due'
            return self.event('invoice.payment_failed', self._invoice(subscription, paid=False))

    def pay_invoice(self, subscription_id: str) -> dict:
        """The customer's next invoice is paid: the subscription is active again; returns `invoice.paid`."""
        with self._lock:
            subscription = self.subscriptions[subscription_id]
            subscription['status'] = 'active'
            return self.event('invoice.paid', self._invoice(subscription))

    def hold_next(self, method: str, path: str) -> Hold:
        """Keep the next `method path` request waiting until `release()`; it answers with the state it arrived to."""
        hold = Hold(method, path)
        self.holds.append(hold)
        return hold

    def event(self, event_type: str, obj: dict) -> dict:
        """An event carrying a snapshot of `obj` as it is now, like Stripe's."""
        return {'id': self._id('evt'), 'object': 'event', 'api_version': '2026-10-28.endive',
                'created': int(time.time()), 'type': event_type, 'livemode': False, 'pending_webhooks': 1,
                'data': {'object': copy.deepcopy(obj)}, 'request': {'id': None, 'idempotency_key': None}}

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """The next `count` API requests answer `status` with Stripe's error JSON (and `Stripe-Should-Retry`)."""
        self.failures.extend([status] * count)

    @staticmethod
    def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
        timestamp = int(time.time()) if timestamp is None else timestamp
        digest = hmac.new(secret.encode(), f'{timestamp}.'.encode() + payload, hashlib.sha256).hexdigest()
        return f't={timestamp},v1={digest}'

    def signed(self, event: dict, **sign_options) -> tuple[bytes, dict[str, str]]:
        payload = json.dumps(event).encode()
        return payload, {'Stripe-Signature': self.sign(payload, **sign_options), 'Content-Type': 'application/json'}

    def check(self) -> None:
        """Fail the test if the double itself raised: its bug must not pass for Stripe failing."""
        if self.errors:
            pytest.fail('the Stripe test double failed:\n' + '\n'.join(self.errors), pytrace=False)

    def calls(self, method: str, path_prefix: str) -> list[dict]:
        return [params for m, path, params in self.requests if m == method and path.startswith(path_prefix)]

    # --- the HTTP API ----------------------------------------------------------------------------------------

    async def _guard(self, request: Request) -> tuple[dict, JSONResponse | None]:
        """Record the request and refuse it as Stripe would: a bad key, a body that is not a form, a planned failure."""
        body = (await request.body()).decode()
        content_type = request.headers.get('content-type', '').split(';')[0].strip().lower()
        params = parse_form(body) if body and content_type == 'application/x-www-form-urlencoded' else \
            dict(request.query_params)
        self.requests.append((request.method, request.url.path, params))
        if request.headers.get('authorization') != f'Bearer {API_KEY}':
            return params, stripe_error(401, 'Invalid API Key provided.')
        if body and content_type != 'application/x-www-form-urlencoded':
            return params, stripe_error(400, FORM_ONLY)
        if self.failures:
            status = self.failures.pop(0)
            return params, stripe_error(status, 'Something went wrong on our side.', kind='api_error')
        return params, None

    async def _held(self, request: Request) -> None:
        """Wait here while a test holds this request (off the double's loop, so other requests are served)."""
        hold = next((h for h in self.holds if not h.arrived.is_set()
                     and (h.method, h.path) == (request.method, request.url.path)), None)
        if hold is not None:
            hold.arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, hold.released.wait, 30)

    async def unknown(self, request: Request) -> JSONResponse:
        _, refusal = await self._guard(request)
        return refusal or stripe_error(404, f'Unrecognized request URL ({request.method}: {request.url.path}). '
                                            'Please see https://stripe.com/docs or we can help at '
                                            'https://support.stripe.com/.')

    async def create_session(self, request: Request) -> JSONResponse:
        params, refusal = await self._guard(request)
        if refusal:
            return refusal
        price = params.get('line_items', [{}])[0].get('price')
        if price not in self.prices:
            return stripe_error(400, f"No such price: '{price}'", code='resource_missing')
        session_id = self._id('cs_test')
        session = {'id': session_id, 'object': 'checkout.session', 'mode': params.get('mode'), 'status': 'open',
                   'payment_status': 'unpaid', 'url': f'{self.base_url}/c/pay/{session_id}',
                   'client_reference_id': params.get('client_reference_id'), 'customer': params.get('customer'),
                   'customer_email': params.get('customer_email'), 'metadata': params.get('metadata', {}),
                   'subscription': None, 'success_url': params.get('success_url', '').replace(
                       '{CHECKOUT_SESSION_ID}', session_id), 'cancel_url': params.get('cancel_url'),
                   'line_items': params.get('line_items'), 'subscription_data': params.get('subscription_data', {}),
                   'livemode': False, 'created': int(time.time())}
        self.sessions[session_id] = session
        return JSONResponse(self._public_session(session))

    async def get_session(self, request: Request) -> JSONResponse:
        return await self._retrieve(request, self.sessions, 'checkout.session', self._public_session)

    async def create_portal_session(self, request: Request) -> JSONResponse:
        params, refusal = await self._guard(request)
        if refusal:
            return refusal
        if params.get('customer') not in self.customers:
            return stripe_error(400, f"No such customer: '{params.get('customer')}'", code='resource_missing')
        portal_id = self._id('bps')
        return JSONResponse({'id': portal_id, 'object': 'billing_portal.session', 'customer': params['customer'],
                             'return_url': params.get('return_url'), 'url': f'{self.base_url}/p/session/{portal_id}',
                             'livemode': False, 'created': int(time.time())})

    async def get_subscription(self, request: Request) -> JSONResponse:
        return await self._retrieve(request, self.subscriptions, 'subscription')

    async def cancel_subscription(self, request: Request) -> JSONResponse:
        _, refusal = await self._guard(request)
        subscription = self.subscriptions.get(request.path_params['id'])
        if refusal or subscription is None:
            return refusal or stripe_error(404, f"No such subscription: '{request.path_params['id']}'",
                                           code='resource_missing')
        self.set_subscription_status(subscription['id'], 'canceled')
        return JSONResponse(subscription)

    async def list_subscriptions(self, request: Request) -> JSONResponse:
        """Stripe's filters: customer, price, status (none: all but canceled; `all`; `ended`; one status),
        limit (1–100, default 10) and starting_after, newest first with `has_more`."""
        params, refusal = await self._guard(request)
        if refusal:
            return refusal
        status, limit = params.get('status'), params.get('limit', '10')
        if status is not None and status not in (*SUBSCRIPTION_STATUSES, 'all', 'ended'):
            return stripe_error(400, f'Invalid status: must be one of {", ".join(SUBSCRIPTION_STATUSES)}, all, or '
                                     'ended', param='status')
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            return stripe_error(400, 'This value must be greater than or equal to 1 and less than or equal to 100.',
                                param='limit')
        found = [s for s in reversed(list(self.subscriptions.values()))
                 if _subscription_matches(s, params.get('customer'), params.get('price'), status)]
        after = params.get('starting_after')
        if after:
            ids = [s['id'] for s in found]
            found = found[ids.index(after) + 1:] if after in ids else []
        page = found[:int(limit)]
        return JSONResponse({'object': 'list', 'data': page, 'has_more': len(found) > len(page),
                             'url': '/v1/subscriptions'})

    async def get_price(self, request: Request) -> JSONResponse:
        return await self._retrieve(request, self.prices, 'price')

    async def _retrieve(self, request: Request, objects: dict, kind: str, shape=lambda obj: obj) -> JSONResponse:
        """GET /v1/<kind>s/{id}: the object, or Stripe's resource_missing error."""
        _, refusal = await self._guard(request)
        obj = objects.get(request.path_params['id'])
        if refusal or obj is None:
            return refusal or stripe_error(404, f"No such {kind}: '{request.path_params['id']}'",
                                           code='resource_missing')
        answer = copy.deepcopy(shape(obj))
        await self._held(request)
        return JSONResponse(answer)

    async def get_account(self, request: Request) -> JSONResponse:
        _, refusal = await self._guard(request)
        return refusal or JSONResponse({'id': 'acct_double', 'object': 'account', 'charges_enabled': True})

    # --- object shapes ---------------------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f'{prefix}_{next(self._ids):06d}'

    @staticmethod
    def _price(price_id: str, recurring: bool = True) -> dict:
        """The price object of one plan's price id, with that plan's own amount and product."""
        amount = AMOUNTS[price_id]
        return {'id': price_id, 'object': 'price', 'active': True, 'billing_scheme': 'per_unit', 'currency': 'usd',
                'unit_amount': amount, 'unit_amount_decimal': str(amount), 'nickname': price_id.removeprefix('price_'),
                'type': 'recurring' if recurring else 'one_time', 'livemode': False, 'metadata': {},
                'recurring': {'interval': 'month', 'interval_count': 1, 'usage_type': 'licensed', 'meter': None,
                              'trial_period_days': None} if recurring else None,
                'product': f'prod_{price_id.removeprefix("price_")}'}

    def _create_customer(self, email: str | None) -> str:
        customer_id = self._id('cus')
        self.customers[customer_id] = {'id': customer_id, 'object': 'customer', 'email': email}
        return customer_id

    def _create_subscription(self, customer_id: str, price_id: str, metadata: dict, status: str) -> dict:
        now = int(time.time())
        subscription_id = self._id('sub')
        self.subscriptions[subscription_id] = {
            'id': subscription_id, 'object': 'subscription', 'customer': customer_id, 'status': status,
            'cancel_at_period_end': False, 'canceled_at': None, 'ended_at': None, 'created': now,
            'start_date': now, 'metadata': dict(metadata), 'livemode': False,
            'items': {'object': 'list', 'has_more': False,
                      'url': f'/v1/subscription_items?subscription={subscription_id}',
                      'data': [{'id': self._id('si'), 'object': 'subscription_item', 'quantity': 1,
                                'subscription': subscription_id, 'price': copy.deepcopy(self.prices[price_id]),
                                'current_period_start': now, 'current_period_end': now + MONTH}]}}
        return self.subscriptions[subscription_id]

    def _invoice(self, subscription: dict, paid: bool = True) -> dict:
        return {'id': self._id('in'), 'object': 'invoice', 'customer': subscription['customer'],
                'status': 'paid' if paid else 'open', 'livemode': False,
                'parent': {'type': 'subscription_details', 'quote_details': None,
                           'subscription_details': {'metadata': subscription['metadata'],
                                                    'subscription': subscription['id']}}}

    @staticmethod
    def _public_session(session: dict) -> dict:
        return {key: value for key, value in session.items() if key not in ('line_items', 'subscription_data')}


def _subscription_matches(subscription: dict, customer: str | None, price: str | None, status: str | None) -> bool:
    if customer is not None and subscription['customer'] != customer:
        return False
    if price is not None and all(item['price']['id'] != price for item in subscription['items']['data']):
        return False
    if status is None:
        return subscription['status'] != 'canceled'
    if status == 'ended':
        return subscription['status'] in ('canceled', 'incomplete_expired')
    return status == 'all' or subscription['status'] == status


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@contextmanager
def serving(app, port: int) -> Iterator[None]:
    """Run an ASGI app on 127.0.0.1:port in a thread for the duration of the block."""
    server = uvicorn.Server(uvicorn.Config(app, host='127.0.0.1', port=port, log_level='warning', lifespan='off',
                                           ws='none', interface='asgi3'))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError('the Stripe double did not start')
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def stripe_double(monkeypatch) -> Iterator[StripeDouble]:
    """A running double with the app's Stripe settings pointing at it; request it before `user`."""
    double = StripeDouble()
    port = free_port()
    double.base_url = f'http://127.0.0.1:{port}'
    for name, value in (('STRIPE_SECRET_KEY', API_KEY), ('STRIPE_WEBHOOK_SECRET', WEBHOOK_SECRET),
                        ('STRIPE_API_BASE', double.base_url), ('STRIPE_PRICE_STARTER', PRICES['starter']),
                        ('STRIPE_PRICE_PRO', PRICES['pro']), ('STRIPE_PRICE_BUSINESS', PRICES['business']),
                        ('STRIPE_PRICE_AGENT', PRICES['agent'])):
        monkeypatch.setenv(name, value)
    from services.platform.settings import Settings, configure
    configure(Settings())
    # The SDK's own retries run against the double's Stripe-Should-Retry; only their pauses are shortened.
    monkeypatch.setattr(stripe._http_client.HTTPClient, 'INITIAL_DELAY', 0.01)
    monkeypatch.setattr(stripe._http_client.HTTPClient, 'MAX_DELAY', 0.05)
    try:
        with serving(double.app, port):
            yield double
    finally:
        for hold in double.holds:
            hold.release()
    double.check()


async def deliver(client: httpx.AsyncClient, double: StripeDouble, event: dict, **sign_options) -> httpx.Response:
    payload, headers = double.signed(event, **sign_options)
    return await client.post('/api/webhooks/stripe', content=payload, headers=headers)


async def wait_until_processed(event_id: str, timeout: float = 10) -> str:
    """Webhook processing runs after the answer: wait for the stored event to settle, return its status."""
    import asyncio

    from models import WebhookEvent
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = WebhookEvent.get_or_none(WebhookEvent.event_id == event_id)
        if event is not None and event.status not in ('pending', 'processing'):
            return event.status
        await asyncio.sleep(0.02)
    raise AssertionError(f'event {event_id} was not processed within {timeout} s')
