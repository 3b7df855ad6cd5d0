"""Small statistics shared by the rows: percentiles, medians over runs, load loops, and one resend."""
import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float('nan')
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


async def closed_loop(send: Callable[[int], Awaitable[None]], *, total: int,
                      concurrency: int) -> tuple[float, list[float]]:
    """`concurrency` workers send `total` requests back to back; returns (requests per second, latencies in s)."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for number in counter:
            started = time.perf_counter()
            await send(number)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(concurrency)])
    return total / (time.perf_counter() - started), latencies


async def open_loop(send: Callable[[int], Awaitable[None]], *, rate: float, seconds: float) -> list[float]:
    """Requests started at a fixed `rate` regardless of answers (like webhooks arriving); returns latencies in s."""
    latencies: list[float] = []

    async def timed(number: int) -> None:
        started = time.perf_counter()
        await send(number)
        latencies.append(time.perf_counter() - started)

    tasks = []
    start = time.perf_counter()
    for number in range(int(rate * seconds)):
        delay = start + number / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(number)))
    await asyncio.gather(*tasks)
    return latencies


def run_alone(doc: str | None, measure: Callable[[int], dict], row: Callable[[dict], tuple[str, ...]]) -> None:
    """`python -m bench.<row>`: one row measured on its own, its figures as JSON and its table line."""
    parser = argparse.ArgumentParser(description=(doc or '').splitlines()[0])
    parser.add_argument('--runs', type=int, default=3, help='runs; each figure is their median')
    result = measure(parser.parse_args().runs)
    print(json.dumps(result, indent=2))
    print('  '.join(row(result)))


async def post_resending_once(client: httpx.AsyncClient, url: str, resent: list[int],
                              **request: Any) -> httpx.Response:
    """POST, and send it once more when the server closed the kept-alive connection under it (`httpx.ReadError`,
    seen now and then under bursts; its cause is open work). Only for idempotent requests: a webhook stored by id,
    a deploy with an Idempotency-Key. `resent` counts the repeats, which the rows report."""
    try:
        return await client.post(url, **request)
    except httpx.ReadError:
        resent.append(1)
        return await client.post(url, **request)
