"""Prometheus metrics on a registry of our own.

A dedicated `CollectorRegistry` (not prometheus-client's global one) because NiceGUI's test fixtures run `main.py`
again for every test: anything registered from there twice would raise. This module is imported once per process,
so the metrics below are defined exactly once. Counters and histograms are observed by the code that does the work
(webhooks, dispatch, provisioning, callbacks); gauges are computed at scrape time.
"""
import logging

import peewee
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.process_collector import ProcessCollector

from models import JOB_STATUSES, Agent, AgentHealth, AgentStatus, db

from . import loop_lag

JOBS_TABLE = 'provisioning_job'
CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

log = logging.getLogger(__name__)
disable_created_metrics()  # `…_created` series double the output and say only when the process started
registry = CollectorRegistry()
ProcessCollector(registry=registry)  # memory, CPU and open files of this process
GCCollector(registry=registry)

webhook_deliveries = Counter(
    'agenthost_webhook_deliveries_total', 'Webhook deliveries received, by sender and what became of them.',
    ['source', 'result'], registry=registry)
dispatch_attempts = Counter(
    'agenthost_dispatch_attempts_total', 'Workflow dispatch calls to GitHub, by outcome.', ['outcome'],
    registry=registry)
dispatch_duration = Histogram(
    'agenthost_dispatch_duration_seconds', 'Time one workflow dispatch call to GitHub took.', registry=registry)
provisioning_duration = Histogram(
    'agenthost_provisioning_duration_seconds', 'Time from queueing a provisioning job to its end.',
    buckets=(30, 60, 120, 180, 300, 450, 600, 900, 1200, 1800, 3600, float('inf')), registry=registry)
callback_latency = Histogram(
    'agenthost_callback_latency_seconds', 'Time from a provisioning callback arriving to its change being stored '
    'and announced to browsers.', registry=registry)


Gauge('agenthost_event_loop_lag_max_seconds', 'Worst lateness of the event loop since the previous scrape; '
      'anything that blocks the loop shows here.', registry=registry).set_function(loop_lag.monitor.take_worst)


def connected_clients() -> int:
    from nicegui import Client  # imported late: main.py sets NiceGUI's storage path before NiceGUI is imported
    return len(Client.instances)


Gauge('agenthost_connected_clients', 'Browser clients NiceGUI currently holds.',
      registry=registry).set_function(connected_clients)


def job_counts() -> dict[str, int]:
    """Jobs per state, all states present; empty while the jobs table does not exist yet (older schema)."""
    counts: dict[str, int] = dict.fromkeys(JOB_STATUSES, 0)
    if not db.table_exists(JOBS_TABLE):
        return counts
    for status, number in db.execute_sql(f'SELECT status, COUNT(*) FROM {JOBS_TABLE} GROUP BY status').fetchall():
        counts[status] = number
    return counts


class JobsCollector:
    """`agenthost_jobs{state}` read from the jobs table at scrape time, so it is right after a restart too."""

    def collect(self):
        family = GaugeMetricFamily('agenthost_jobs', 'Provisioning jobs by state.', labels=['state'])
        try:
            counts = job_counts()
        except peewee.DatabaseError as error:
            log.warning('metrics could not count jobs: %s', error)
            counts = {}
        for state, number in counts.items():
            family.add_metric([state], number)
        yield family


registry.register(JobsCollector())


class HealthCollector:
    """`agenthost_agents_health{health}`: running agents by what their heartbeats say, all states present."""

    def collect(self):
        family = GaugeMetricFamily('agenthost_agents_health', 'Running agents by health.', labels=['health'])
        counts = dict.fromkeys(AgentHealth, 0)
        try:
            rows = (Agent.select(Agent.health, peewee.fn.COUNT(Agent.id)).where(Agent.status == AgentStatus.RUNNING)
                    .group_by(Agent.health).tuples())
            counts.update(dict(rows))
        except peewee.DatabaseError as error:
            log.warning('metrics could not count agents by health: %s', error)
        for health, number in counts.items():
            family.add_metric([str(health)], number)
        yield family


registry.register(HealthCollector())

USAGE_METRICS = (('requests', 'Chat requests'), ('input_tokens', 'Input tokens'), ('output_tokens', 'Output tokens'))


class UsageCollector:
    """`agenthost_usage_{requests,input_tokens,output_tokens}{model}`: what agents used this billing period (the
    calendar month, UTC), from their heartbeats; they start again from 0 with each period."""

    def collect(self):
        from ..runtime.usage import usage_by_model_this_period  # the runtime's domain builds on this one
        families = [GaugeMetricFamily(f'agenthost_usage_{name}', f'{text} of all agents this billing period, by '
                                                                 'model.', labels=['model'])
                    for name, text in USAGE_METRICS]
        try:
            rows = usage_by_model_this_period()
        except peewee.DatabaseError as error:
            log.warning('metrics could not sum usage: %s', error)
            rows = []
        for model, *values in rows:
            for family, value in zip(families, values, strict=True):
                family.add_metric([model], value)
        yield from families


registry.register(UsageCollector())


def exposition() -> bytes:
    """The text a Prometheus scrape receives; reads the database, so call it off the event loop."""
    return generate_latest(registry)
