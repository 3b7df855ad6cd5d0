"""Row `webhook ingest`: signed customer.subscription.updated deliveries against the app and the bare baseline."""
import asyncio
import json

from tests.stripe_double import PRICES, StripeDouble

from .lean_client import LeanClient
from .measure import closed_loop, median, open_loop, percentile

CONCURRENCY = (1, 10, 50)
EVENTS_PER_LEVEL = 600
RATE = 200
RATE_SECONDS = 5


def signed_events(double: StripeDouble, subscription: dict, count: int) -> list[tuple[bytes, dict]]:
    """Distinct events (each its own id) signed now, so none is refused as stale or deduplicated."""
    deliveries = []
    for _ in range(count):
        payload = json.dumps(double.event('customer.subscription.updated', subscription)).encode()
        deliveries.append((payload, {'Stripe-Signature': double.sign(payload), 'Content-Type': 'application/json'}))
    return deliveries


async def measure(url: str, double: StripeDouble, subscription: dict) -> dict:
    """Throughput per concurrency level (best level counts) and latency at a steady 200 events/s."""
    client = LeanClient(url)

    def sender(deliveries: list[tuple[bytes, dict]]):
        requests = [client.request('/api/webhooks/stripe', payload, headers) for payload, headers in deliveries]

        async def send(number: int) -> None:
            await client.send_expecting_ok(requests[number])
        return send

    try:
        levels = {}
        for concurrency in CONCURRENCY:
            deliveries = signed_events(double, subscription, EVENTS_PER_LEVEL)
            rate, latencies = await closed_loop(sender(deliveries), total=len(deliveries), concurrency=concurrency)
            levels[concurrency] = {'events_per_s': rate, 'p50_ms': percentile(latencies, 50) * 1000,
                                   'p99_ms': percentile(latencies, 99) * 1000}
        deliveries = signed_events(double, subscription, RATE * RATE_SECONDS)
        steady = await open_loop(sender(deliveries), rate=RATE, seconds=RATE_SECONDS)
    finally:
        await client.close()
    best = max(levels.values(), key=lambda level: level['events_per_s'])
    return {'levels': levels, 'events_per_s': best['events_per_s'], 'p50_ms': percentile(steady, 50) * 1000,
            'p99_ms': percentile(steady, 99) * 1000}


def subscription_for_user_one(double: StripeDouble) -> dict:
    """A subscription the app can re-read while processing: its metadata names the benchmark's first user."""
    customer = double._create_customer('bench@example.com')
    return double._create_subscription(customer, PRICES['pro'], {'user_id': '1', 'plan': 'pro'}, 'active')


def summarise(app_runs: list[dict], baseline_runs: list[dict]) -> dict:
    app_rate = median([run['events_per_s'] for run in app_runs])
    baseline_rate = median([run['events_per_s'] for run in baseline_runs])
    return {'events_per_s': app_rate, 'p50_ms': median([run['p50_ms'] for run in app_runs]),
            'p99_ms': median([run['p99_ms'] for run in app_runs]), 'baseline_events_per_s': baseline_rate,
            'baseline_p99_ms': median([run['p99_ms'] for run in baseline_runs]),
            'ratio': app_rate / baseline_rate, 'runs': len(app_runs),
            'levels': app_runs[-1]['levels'], 'baseline_levels': baseline_runs[-1]['levels']}


async def run_once(app_url: str, baseline_url: str, double: StripeDouble, subscription: dict) -> tuple[dict, dict]:
    return await measure(app_url, double, subscription), await measure(baseline_url, double, subscription)


def main_loop(app_url: str, baseline_url: str, double: StripeDouble, runs: int) -> dict:
    subscription = subscription_for_user_one(double)
    results = [asyncio.run(run_once(app_url, baseline_url, double, subscription)) for _ in range(runs)]
    return summarise([app for app, _ in results], [baseline for _, baseline in results])
