"""The webhook-ingest baseline: a bare Starlette endpoint that verifies the same Stripe signature with the SDK and
inserts the same row into SQLite (WAL), with nothing else around it."""
import json
import os
import sqlite3
import threading

import stripe
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SECRET = os.environ['STRIPE_WEBHOOK_SECRET']
local = threading.local()


def connection() -> sqlite3.Connection:
    if not hasattr(local, 'db'):
        local.db = sqlite3.connect(os.environ['BASELINE_DB'], timeout=5, isolation_level=None)
        local.db.execute('PRAGMA journal_mode=wal')
        local.db.execute('PRAGMA synchronous=normal')
        local.db.execute('CREATE TABLE IF NOT EXISTS webhook_event (source TEXT, event_id TEXT, type TEXT, '
                         'payload TEXT, status TEXT, UNIQUE (source, event_id))')
    return local.db


def store(payload: bytes, signature: str | None) -> bool:
    stripe.WebhookSignature.verify_header(payload.decode(), signature, SECRET, 300)
    event = json.loads(payload)
    cursor = connection().execute('INSERT OR IGNORE INTO webhook_event VALUES (?, ?, ?, ?, ?)',
                                  ('stripe', event['id'], event['type'], payload.decode(), 'pending'))
    return cursor.rowcount == 1


async def receive(request: Request) -> JSONResponse:
    payload = await request.body()
    try:
        new = await run_in_threadpool(store, payload, request.headers.get('stripe-signature'))
    except stripe.SignatureVerificationError:
        return JSONResponse({'error': 'bad signature'}, status_code=400)
    return JSONResponse({'received': True, 'duplicate': not new})


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({'status': 'ok'})


app = Starlette(routes=[Route('/api/webhooks/stripe', receive, methods=['POST']), Route('/healthz', healthz)])
