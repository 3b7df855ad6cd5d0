"""Row `instances`: AgentHost as several instances on one PostgreSQL.

Webhook ingest with one instance and with three (deliveries spread round robin, as a proxy without stickiness spreads
them), the same client and the same number of deliveries; and callback to browser when the callback reaches another
instance than the one serving the browser, so the change travels through PostgreSQL's NOTIFY. On two cores three
instances share the same CPUs as one, so more throughput is not to be expected: the row shows what several instances
cost. Run alone with `python -m bench.instances`.
"""
import asyncio
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.postgres_support import administer
from tests.stripe_double import StripeDouble

from . import callback_browser, webhook_ingest
from .lean_client import LeanClient
from .measure import closed_loop, median, run_alone
from .servers import AppServer, app_server
from .world import World, prepare_accounts, running_doubles

SERVER = os.environ.get('AGENTHOST_BENCH_POSTGRES', 'postgresql://postgres@127.0.0.1:5432')
"""A PostgreSQL server whose `postgres` database this row may use to create and drop a database of its own."""
DATABASE = 'agenthost_bench_instances'
DELIVERIES = 1500
CONCURRENCY = 30


@contextmanager
def fleet(count: int) -> Iterator[tuple[World, list[AppServer]]]:
    """The doubles, one account with one agent, and `count` instances on a fresh PostgreSQL database."""
    administer(f'DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)', server=SERVER)
    administer(f'CREATE DATABASE {DATABASE}', server=SERVER)
    with ExitStack() as stack:
        stack.callback(administer, f'DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)', server=SERVER)
        stripe, github, settings = running_doubles(stack)
        settings = {**settings, 'DATABASE_URL': f'{SERVER}/{DATABASE}', 'STORAGE_SECRET': secrets.token_urlsafe(32)}
        folders = [Path(stack.enter_context(tempfile.TemporaryDirectory(prefix='agenthost-instance-')))
                   for _ in range(count)]
        accounts = prepare_accounts(folders[0], settings, users=1, agents_each=1)
        apps = [stack.enter_context(app_server(settings, data_dir=folder)) for folder in folders]
        yield World(apps[0], stripe, github, accounts), apps


async def ingest(urls: list[str], double: StripeDouble, subscription: dict, resent: list[int]) -> float:
    """Deliveries per second, spread round robin over `urls`."""
    clients = [LeanClient(url) for url in urls]
    requests = [clients[number % len(clients)].request('/api/webhooks/stripe', payload, headers)
                for number, (payload, headers) in enumerate(webhook_ingest.signed_events(double, subscription,
                                                                                         DELIVERIES))]

    async def send(number: int) -> None:
        await clients[number % len(clients)].send_expecting_ok(requests[number])

    try:
        rate, _ = await closed_loop(send, total=len(requests), concurrency=CONCURRENCY)
    finally:
        for client in clients:
            resent.extend([1] * client.resent)
            await client.close()
    return rate


def measure_once() -> dict:
    with fleet(3) as (world, apps):
        across = asyncio.run(callback_browser.measure(world, callback_url=apps[1].url))  # before the webhooks' backlog
        subscription = webhook_ingest.subscription_for_user_one(world.stripe)
        resent: list[int] = []
        one = asyncio.run(ingest([apps[0].url], world.stripe, subscription, resent))
        three = asyncio.run(ingest([app.url for app in apps], world.stripe, subscription, resent))
    return {'one_instance_events_per_s': one, 'three_instances_events_per_s': three, 'resent': len(resent),
            'callback_across_p50_ms': across['p50_ms'], 'callback_across_p95_ms': across['p95_ms']}


def measure(runs: int) -> dict:
    results = [measure_once() for _ in range(runs)]
    return {**{key: median([result[key] for result in results]) for key in results[0]}, 'runs': runs}


def row(result: dict) -> tuple[str, str, str, str, str]:
    return ('instances', f'webhook ingest on PostgreSQL {result["one_instance_events_per_s"]:.0f} events/s with one '
                         f'instance, {result["three_instances_events_per_s"]:.0f} with three; callback to a browser '
                         f'on another instance p95 {result["callback_across_p95_ms"]:.0f} ms ({result["resent"]} '
                         'deliveries sent again after a closed connection)',
            'callback across instances p95 < 150 ms', f'{result["callback_across_p95_ms"] / 150:.2f}',
            str(result['runs']))


if __name__ == '__main__':
    run_alone(__doc__, measure, row)
