"""Row `heartbeats`: what 1,000 agents heartbeating cost AgentHost.

The real app (SQLite) holds 1,000 running agents, each with a runtime token of its own, minted with the app's code
before it starts. One client process plays their runtimes: every agent posts a heartbeat (cumulative usage, a
rising `seq`) once per interval, spread evenly. One interval goes unmeasured first: a runtime's first heartbeat
after its boot is dearer (its boot row is made, the agent's start recorded) and comes once per boot, so the row
measures the fleet as it runs. The client keeps up to 250 connections (five pools of 50), as a fleet behind a proxy
would: heartbeats are answered when their batch commits, a fifth of a second after the first of it arrives.
Measured: the app process's CPU time (from /proc/<pid>/stat) and its worst event-loop lag (from /metrics), while
the health pass judges the same 1,000 agents.

Two windows against the same app: 30 s at the default heartbeat interval of 15 s (the row's figure, measured, not
scaled), then 15 s at a third of it (three times the rate) to show how the cost grows: per heartbeat it falls,
because heartbeats that arrive together share one transaction. Run alone with `python -m bench.heartbeats`.
"""
import asyncio
import os
import statistics
import tempfile
import time
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path

import httpx

from .burst import worst_loop_lag_ms
from .measure import open_loop, post_resending_once, run_alone
from .servers import app_server
from .world import MODEL_PROVIDER, prepare_accounts, settings_of_the_row

AGENTS = 1000
WINDOWS = ((15.0, 30.0), (5.0, 15.0))
"""(heartbeat interval, seconds measured): the default interval first, then three times the rate."""
CLOCK_TICKS = os.sysconf('SC_CLK_TCK')
CLIENTS, CONNECTIONS_EACH = 5, 50
"""Several small connection pools: one httpx client with hundreds of connections stalls by itself for seconds."""


def running_agents_with_tokens(data_dir: Path, settings: dict[str, str]) -> list[str]:
    """1,000 agents of 100 users, marked running, each with a runtime token: what their runtimes would hold."""
    accounts = prepare_accounts(data_dir, settings, users=AGENTS // 10, agents_each=10)
    import models
    from services.platform.settings import Settings, configure
    from services.runtime import tokens

    with settings_of_the_row(data_dir, settings):
        models.open_database(configure(Settings()).resolved_database_url)
        agent_ids = [agent_id for account in accounts for agent_id in account.agent_ids]
        models.Agent.update(status=models.AgentStatus.RUNNING).where(models.Agent.id.in_(agent_ids)).execute()
        minted = [tokens.mint(agent_id, None) for agent_id in agent_ids]
        models.db.close()
    return minted


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process used so far."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def beat_all(url: str, minted: list[str], pid: int, interval: float, seconds: float) -> dict:
    """Every agent heartbeats once per `interval` for `seconds`; the app's CPU share and worst loop lag meanwhile."""
    seqs = dict.fromkeys(range(len(minted)), 0)
    failures: list[int] = []
    resent: list[int] = []

    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(
            base_url=url, timeout=30, limits=httpx.Limits(max_connections=CONNECTIONS_EACH))) for _ in range(CLIENTS)]
        client = clients[0]

        async def beat(number: int) -> None:
            agent = number % len(minted)
            seqs[agent] += 1
            body = {'boot_id': f'bench-boot-{agent}', 'seq': seqs[agent], 'revision': 1, 'status': 'ok',
                    'message': '', 'usage': {'requests': seqs[agent], 'input_tokens': 10 * seqs[agent],
                                             'output_tokens': 20 * seqs[agent]}}
            headers = {'Authorization': f'Bearer {minted[agent]}'}
            answer = await post_resending_once(clients[agent % CLIENTS], '/api/runtime/heartbeat', resent, json=body,
                                               headers=headers)
            if answer.status_code != 200:
                failures.append(answer.status_code)

        await open_loop(beat, rate=len(minted) / interval, seconds=interval)  # every runtime has said hello
        await worst_loop_lag_ms(client)  # start the lag window now
        cpu_before, started = cpu_seconds(pid), time.perf_counter()
        latencies = await open_loop(beat, rate=len(minted) / interval, seconds=seconds)
        cpu_used, elapsed = cpu_seconds(pid) - cpu_before, time.perf_counter() - started
        lag = await worst_loop_lag_ms(client)
    if failures:
        raise RuntimeError(f'{len(failures)} heartbeats refused, e.g. HTTP {failures[0]}')
    return {'interval_s': interval, 'heartbeats': len(latencies), 'cpu_percent': cpu_used / elapsed * 100,
            'cpu_ms_per_heartbeat': cpu_used / len(latencies) * 1000, 'max_loop_lag_ms': lag,
            'p99_ms': sorted(latencies)[int(len(latencies) * 0.99)] * 1000, 'resent': len(resent)}


def measure_once() -> list[dict]:
    with ExitStack() as stack:
        settings = {**MODEL_PROVIDER, 'AGENT_HEARTBEAT_SECONDS': str(WINDOWS[0][0])}
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix='agenthost-bench-heartbeats-')))
        minted = running_agents_with_tokens(data_dir, settings)
        app = stack.enter_context(app_server(settings, data_dir=data_dir))
        return [asyncio.run(beat_all(app.url, minted, app.pid, interval, seconds)) for interval, seconds in WINDOWS]


def measure(runs: int) -> dict:
    results = [measure_once() for _ in range(runs)]
    windows = [{key: statistics.median(result[number][key] for result in results)
                for key in ('interval_s', 'cpu_percent', 'cpu_ms_per_heartbeat', 'max_loop_lag_ms', 'p99_ms',
                            'resent')}
               for number in range(len(WINDOWS))]
    return {'agents': AGENTS, 'at_default_interval': windows[0], 'at_three_times_the_rate': windows[1], 'runs': runs}


def row(result: dict) -> tuple[str, str, str, str, str]:
    default, faster = result['at_default_interval'], result['at_three_times_the_rate']
    return ('heartbeats', f'{result["agents"]} agents every {default["interval_s"]:g} s: '
                          f'{default["cpu_percent"]:.1f} % of one core ({default["cpu_ms_per_heartbeat"]:.1f} ms '
                          f'each), max loop lag {default["max_loop_lag_ms"]:.0f} ms; every {faster["interval_s"]:g} s: '
                          f'{faster["cpu_percent"]:.1f} % ({faster["cpu_ms_per_heartbeat"]:.1f} ms each), lag '
                          f'{faster["max_loop_lag_ms"]:.0f} ms',
            '< 5 % of a core, lag < 50 ms', f'{default["cpu_percent"] / 5:.2f}', str(result['runs']))


if __name__ == '__main__':
    run_alone(__doc__, measure, row)
