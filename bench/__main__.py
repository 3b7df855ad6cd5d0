"""`make bench`: what users feel, each figure against its limit or a baseline measured in the same run.

Starts the real app (`python main.py`, SQLite) with the Stripe and GitHub doubles from tests/, drives it over real
HTTP, real websockets and real Chromium, prints one table and writes bench/results.json. Each figure is the median
of several runs (the table says how many).
"""
import argparse
import asyncio
import json
import platform
import statistics
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

from tests.stripe_double import WEBHOOK_SECRET

from . import (
    browser,
    burst,
    callback_browser,
    chat,
    clients,
    config_apply,
    deploy_dispatch,
    heartbeats,
    instances,
    startup,
    stripe_drain,
    webhook_ingest,
)
from .servers import baseline_server
from .world import world

RESULTS = Path(__file__).parent / 'results.json'


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def runs_in_fresh_worlds(measure, runs: int, **world_size: int) -> list[dict]:
    """Each run against a freshly started app, so no run inherits another's data or warmed caches."""
    results = []
    for _ in range(runs):
        with world(**world_size) as w:
            results.append(asyncio.run(measure(w)))
    return results


def measure_webhook_ingest(runs: int) -> dict:
    app_runs, baseline_runs = [], []
    for _ in range(runs):
        with world() as w, baseline_server(WEBHOOK_SECRET) as baseline_url:
            subscription = webhook_ingest.subscription_for_user_one(w.stripe)
            app_runs.append(asyncio.run(webhook_ingest.measure(w.app.url, w.stripe, subscription)))
            baseline_runs.append(asyncio.run(webhook_ingest.measure(baseline_url, w.stripe, subscription)))
    return webhook_ingest.summarise(app_runs, baseline_runs)


def measure_deploy_to_dispatch(runs: int) -> dict:
    results = runs_in_fresh_worlds(deploy_dispatch.measure, runs, users=20, agents_each=10)
    return {'p50_ms': median_of(results, 'p50_ms'), 'p99_ms': median_of(results, 'p99_ms'),
            'deploys': results[0]['deploys'], 'runs': runs}


def measure_callback_to_browser(runs: int) -> dict:
    results = runs_in_fresh_worlds(callback_browser.measure, runs)
    return {'p50_ms': median_of(results, 'p50_ms'), 'p95_ms': median_of(results, 'p95_ms'),
            'callbacks': results[0]['callbacks'], 'runs': runs}


def measure_burst(runs: int) -> dict:
    results = runs_in_fresh_worlds(burst.measure, runs, users=50, agents_each=10)
    return {'agents': results[0]['agents'], 'seconds': median_of(results, 'seconds'),
            'duplicates': max(run['duplicates'] for run in results),
            'all_dispatched': all(run['all_dispatched'] for run in results),
            'max_loop_lag_ms': median_of(results, 'max_loop_lag_ms'), 'resent': sum(run['resent'] for run in results),
            'runs': runs}


def measure_clients(runs: int) -> dict:
    results = runs_in_fresh_worlds(clients.measure, runs)
    largest = [run[-1] for run in results]
    return {'clients': largest[0]['clients'], 'mib_per_client': median_of(largest, 'mib_per_client'),
            'slowest_ms': median_of(largest, 'slowest_ms'),
            'all_within_1s': all(level['all_within_1s'] for run in results for level in run),
            'levels': results[-1], 'runs': runs}


def measure_startup(runs: int) -> dict:
    python = [startup.measure() for _ in range(runs)]
    binary_command = startup.binary_command()
    binary = [startup.measure(binary_command) for _ in range(runs)] if binary_command else []
    return {'python_seconds': statistics.median(python),
            'binary_seconds': statistics.median(binary) if binary else None, 'runs': runs}


def ingest_row(ingest: dict) -> tuple[str, ...]:
    return ('webhook ingest',
            f'{ingest["events_per_s"]:.0f} events/s; p50 {ingest["p50_ms"]:.1f} ms, p99 {ingest["p99_ms"]:.1f} ms '
            f'at 200/s', f'bare Starlette {ingest["baseline_events_per_s"]:.0f} events/s; target ≥ 1.0×, p99 < 10 ms',
            f'{ingest["ratio"]:.2f}', str(ingest['runs']))


def deploy_row(deploy: dict) -> tuple[str, ...]:
    return ('deploy to dispatch', f'p50 {deploy["p50_ms"]:.1f} ms, p99 {deploy["p99_ms"]:.1f} ms '
                                  f'({deploy["deploys"]} deploys)', 'p50 < 50 ms', f'{deploy["p50_ms"] / 50:.2f}',
            str(deploy['runs']))


def callback_row(callback: dict) -> tuple[str, ...]:
    return ('callback to browser', f'p50 {callback["p50_ms"]:.1f} ms, p95 {callback["p95_ms"]:.1f} ms '
                                   f'({callback["callbacks"]} callbacks)', 'p95 < 300 ms',
            f'{callback["p95_ms"] / 300:.2f}', str(callback['runs']))


def burst_row(burst_result: dict) -> tuple[str, ...]:
    return ('burst', f'{burst_result["agents"]} agents in {burst_result["seconds"]:.1f} s, '
                     f'{burst_result["duplicates"]} duplicate dispatches, max loop lag '
                     f'{burst_result["max_loop_lag_ms"]:.0f} ms ({burst_result["resent"]} deploys sent again after a '
                     'closed connection, same Idempotency-Key)',
            '0 duplicates, lag < 100 ms', f'{burst_result["max_loop_lag_ms"] / 100:.2f}', str(burst_result['runs']))


def clients_row(clients_result: dict) -> tuple[str, ...]:
    return ('clients', f'{clients_result["clients"]} clients, {clients_result["mib_per_client"]:.3f} MiB/client, all '
                       f'updated within 1 s: {"yes" if clients_result["all_within_1s"] else "no"}',
            'every client within 1 s', f'{clients_result["slowest_ms"] / 1000:.2f}', str(clients_result['runs']))


def startup_row(start: dict) -> tuple[str, ...]:
    binary = f', binary {start["binary_seconds"]:.2f} s' if start['binary_seconds'] is not None else ', no binary built'
    return ('startup', f'python main.py {start["python_seconds"]:.2f} s{binary}', 'none set (first response)',
            '—' if start['binary_seconds'] is None else f'{start["binary_seconds"] / start["python_seconds"]:.2f}',
            str(start['runs']))


def failed_row(name: str, error: str) -> tuple[str, ...]:
    return (name, f'did not finish: {error}', '—', '—', '0')


def print_table(rows: list[tuple[str, ...]]) -> None:
    header = ('row', 'measured', 'limit or baseline (same run)', 'ratio', 'runs')
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = '  '.join('{:<%d}' % width for width in widths)
    print(line.format(*header).rstrip())
    print('  '.join('-' * width for width in widths))
    for row in rows:
        print(line.format(*row).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3, help='runs per row; each figure is their median')
    parser.add_argument('--client-runs', type=int, default=1, help='runs of the (slow) clients row')
    args = parser.parse_args()
    if problem := browser.missing_browser():
        sys.exit(problem)
    started = datetime.now(UTC)
    rows_to_measure = (
        ('webhook ingest', lambda: measure_webhook_ingest(args.runs), ingest_row),
        ('deploy to dispatch', lambda: measure_deploy_to_dispatch(args.runs), deploy_row),
        ('callback to browser', lambda: measure_callback_to_browser(args.runs), callback_row),
        ('burst', lambda: measure_burst(args.runs), burst_row),
        ('clients', lambda: measure_clients(args.client_runs), clients_row),
        ('startup', lambda: measure_startup(args.runs), startup_row),
        ('chat overhead', lambda: chat.measure(args.runs), chat.row),
        ('config apply', lambda: config_apply.measure(args.runs), config_apply.row),
        ('heartbeats', lambda: heartbeats.measure(1), heartbeats.row),
        ('stripe drain', lambda: stripe_drain.measure(1), stripe_drain.row),
        ('instances', lambda: instances.measure(1), instances.row),
    )
    results: dict = {}
    rows = []
    for name, measure, row in rows_to_measure:
        try:
            results[name] = measure()
            rows.append(row(results[name]))
        except Exception as error:  # noqa: BLE001 — one row that breaks must not cost the others their figures
            traceback.print_exc()
            results[name] = {'error': f'{type(error).__name__}: {error}'}
            rows.append(failed_row(name, results[name]['error']))
    print_table(rows)
    RESULTS.write_text(json.dumps({'started': started.isoformat(), 'machine': platform.platform(),
                                   'cpus': __import__('os').cpu_count(), 'results': results,
                                   'table': [dict(zip(('row', 'measured', 'limit', 'ratio', 'runs'), row, strict=True))
                                             for row in rows]}, indent=2, default=str))
    print(f'\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}')
    if any('error' in result for result in results.values()):
        sys.exit('some rows did not finish; their errors are above and in the table')


if __name__ == '__main__':
    main()
