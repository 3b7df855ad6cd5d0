"""Row `stripe drain`: a storm of Stripe deliveries, and how long processing takes after the last one is stored.

10,000 deliveries about 200 subscriptions, shuffled, 30 % of them a second delivery of an event already sent (as
Stripe retries do), all `customer.subscription.updated` for subscriptions the Stripe double holds. They are posted
as fast as the app takes them; the clock starts when the last one is stored and stops when no Stripe event is
pending or being processed (read from the app's database). Run alone with `python -m bench.stripe_drain`.
"""
import asyncio
import random
import sqlite3
import time

import httpx

from tests.stripe_double import PRICES, StripeDouble

from .measure import closed_loop, median, post_resending_once, run_alone
from .world import World, world

DELIVERIES = 10_000
SUBSCRIPTIONS = 200
DUPLICATE_SHARE = 0.3
CONCURRENCY = 50
TIMEOUT_SECONDS = 600


def storm(double: StripeDouble) -> list[dict]:
    """The deliveries, shuffled: each event once, and 30 % of the deliveries a repeat of one of them."""
    customer = double._create_customer('storm@example.com')
    subscriptions = [double._create_subscription(customer, PRICES['pro'], {'user_id': '1', 'plan': 'pro'}, 'active')
                     for _ in range(SUBSCRIPTIONS)]
    randomness = random.Random(7)
    unique = round(DELIVERIES * (1 - DUPLICATE_SHARE))
    events = [double.event('customer.subscription.updated', randomness.choice(subscriptions)) for _ in range(unique)]
    deliveries = events + randomness.choices(events, k=DELIVERIES - unique)
    randomness.shuffle(deliveries)
    return deliveries


def undrained(database: str) -> int:
    with sqlite3.connect(f'file:{database}?mode=ro', uri=True, timeout=30) as connection:
        return connection.execute("SELECT COUNT(*) FROM webhook_event WHERE source = 'stripe' "
                                  "AND status IN ('pending', 'processing')").fetchone()[0]


async def measure_in(w: World) -> dict:
    deliveries = storm(w.stripe)
    async with httpx.AsyncClient(base_url=w.app.url, timeout=60,
                                 limits=httpx.Limits(max_connections=CONCURRENCY)) as client:
        async def send(number: int) -> None:
            payload, headers = w.stripe.signed(deliveries[number])  # signed now: never older than Stripe's 5 min
            answer = await post_resending_once(client, '/api/webhooks/stripe', resent, content=payload,
                                               headers=headers)
            answer.raise_for_status()

        resent: list[int] = []
        ingest_rate, _ = await closed_loop(send, total=len(deliveries), concurrency=CONCURRENCY)
    stored = time.perf_counter()
    database = str(w.app.data_dir / 'agenthost.db')
    while undrained(database):
        if time.perf_counter() - stored > TIMEOUT_SECONDS:
            raise RuntimeError(f'{undrained(database)} events still undrained after {TIMEOUT_SECONDS} s')
        await asyncio.sleep(0.05)
    return {'deliveries': len(deliveries), 'subscriptions': SUBSCRIPTIONS, 'duplicate_share': DUPLICATE_SHARE,
            'drain_seconds': time.perf_counter() - stored, 'ingest_events_per_s': ingest_rate, 'resent': len(resent)}


def measure(runs: int) -> dict:
    results = []
    for _ in range(runs):
        with world() as w:
            results.append(asyncio.run(measure_in(w)))
    return {**results[0], 'drain_seconds': median([result['drain_seconds'] for result in results]),
            'ingest_events_per_s': median([result['ingest_events_per_s'] for result in results]), 'runs': runs}


def row(result: dict) -> tuple[str, str, str, str, str]:
    return ('stripe drain', f'{result["deliveries"]} deliveries about {result["subscriptions"]} subscriptions '
                            f'({result["duplicate_share"]:.0%} duplicates): drained {result["drain_seconds"]:.1f} s '
                            f'after the last was stored', '< 15 s', f'{result["drain_seconds"] / 15:.2f}',
            str(result['runs']))


if __name__ == '__main__':
    run_alone(__doc__, measure, row)
