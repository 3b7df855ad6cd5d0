from collections.abc import Iterator

import pytest
from nicegui import Client
from nicegui.testing import User

from models import Agent, db, write_transaction
from services.platform import metrics
from services.platform.settings import Settings, configure
from services.runtime import usage
from tests.factories import make_agent, make_user
from tests.stripe_double import StripeDouble, deliver, stripe_double  # noqa: F401

METRIC_NAMES = ('agenthost_webhook_deliveries_total', 'agenthost_jobs', 'agenthost_dispatch_attempts_total',
                'agenthost_dispatch_duration_seconds', 'agenthost_provisioning_duration_seconds',
                'agenthost_callback_latency_seconds', 'agenthost_connected_clients')


def deliveries(result: str) -> float:
    return metrics.registry.get_sample_value('agenthost_webhook_deliveries_total',
                                             {'source': 'stripe', 'result': result}) or 0.0


@pytest.fixture
def jobs_table(monkeypatch) -> Iterator[str]:
    """A stand-in jobs table with a `status` column (the real one arrives with provisioning)."""
    monkeypatch.setattr(metrics, 'JOBS_TABLE', 'metrics_test_job')
    db.execute_sql('DROP TABLE IF EXISTS metrics_test_job')  # left by an interrupted run on PostgreSQL
    db.execute_sql('CREATE TABLE metrics_test_job (status VARCHAR(16) NOT NULL)')
    try:
        yield 'metrics_test_job'
    finally:
        db.execute_sql('DROP TABLE metrics_test_job')


async def test_metrics_answer_without_login_in_prometheus_text_format(user: User):
    response = await user.http_client.get('/metrics')
    assert response.status_code == 200
    assert response.headers['content-type'].startswith('text/plain; version=0.0.4')
    for name in METRIC_NAMES:
        assert f'# TYPE {name} ' in response.text, name
    assert 'process_resident_memory_bytes' in response.text


async def test_stripe_deliveries_are_counted_by_result(stripe_double: StripeDouble, user: User):
    before = {result: deliveries(result) for result in ('accepted', 'duplicate', 'bad_signature')}
    event = stripe_double.event('customer.tax_id.created', {'id': 'txi_1'})
    await deliver(user.http_client, stripe_double, event)
    await deliver(user.http_client, stripe_double, event)
    await deliver(user.http_client, stripe_double, event, secret='whsec_forged')
    assert {result: deliveries(result) - before[result] for result in before} == \
        {'accepted': 1, 'duplicate': 1, 'bad_signature': 1}
    text = (await user.http_client.get('/metrics')).text
    assert 'agenthost_webhook_deliveries_total{result="accepted",source="stripe"}' in text


async def test_jobs_by_state_are_zero_while_there_is_no_jobs_table(monkeypatch, user: User):
    monkeypatch.setattr(metrics, 'JOBS_TABLE', 'no_such_jobs_table')
    text = (await user.http_client.get('/metrics')).text
    assert 'agenthost_jobs{state="queued"} 0.0' in text
    assert 'agenthost_jobs{state="succeeded"} 0.0' in text


async def test_jobs_by_state_are_counted_from_the_jobs_table_at_scrape_time(jobs_table, user: User):
    for status in ('queued', 'queued', 'in_progress', 'failed'):
        db.execute_sql(f'INSERT INTO {jobs_table} (status) VALUES ({db.param})', (status,))
    text = (await user.http_client.get('/metrics')).text
    assert 'agenthost_jobs{state="queued"} 2.0' in text
    assert 'agenthost_jobs{state="in_progress"} 1.0' in text
    assert 'agenthost_jobs{state="failed"} 1.0' in text
    assert 'agenthost_jobs{state="dispatched"} 0.0' in text


async def test_connected_clients_are_nicegui_clients(user: User):
    await user.open('/login')
    assert metrics.registry.get_sample_value('agenthost_connected_clients') == len(Client.instances) >= 1


def test_provisioning_code_can_observe_the_dispatch_and_duration_metrics():
    attempts = metrics.registry.get_sample_value('agenthost_dispatch_attempts_total', {'outcome': 'retried'}) or 0
    metrics.dispatch_attempts.labels(outcome='retried').inc()
    with metrics.dispatch_duration.time():
        pass
    metrics.provisioning_duration.observe(240)
    metrics.callback_latency.observe(0.02)
    assert metrics.registry.get_sample_value('agenthost_dispatch_attempts_total', {'outcome': 'retried'}) == \
        attempts + 1
    assert metrics.registry.get_sample_value('agenthost_provisioning_duration_seconds_bucket', {'le': '300.0'}) >= 1


async def test_metrics_with_a_token_setting_refuse_a_scrape_without_it(user: User, monkeypatch):
    monkeypatch.setenv('METRICS_TOKEN', 'scrape-secret')
    configure(Settings())
    assert (await user.http_client.get('/metrics')).status_code == 401
    wrong = await user.http_client.get('/metrics', headers={'Authorization': 'Bearer scrape-other'})
    assert wrong.status_code == 401


async def test_metrics_with_a_token_setting_answer_that_bearer_token(user: User, monkeypatch):
    monkeypatch.setenv('METRICS_TOKEN', 'scrape-secret')
    configure(Settings())
    response = await user.http_client.get('/metrics', headers={'Authorization': 'Bearer scrape-secret'})
    assert response.status_code == 200 and '# TYPE agenthost_jobs ' in response.text


async def test_usage_this_period_is_counted_by_model(user: User):
    agent = make_agent(make_user())
    with write_transaction():
        usage.add_usage(agent.id, 'gpt-4.1', {'requests': 3, 'input_tokens': 30, 'output_tokens': 60})
    text = (await user.http_client.get('/metrics')).text
    assert 'agenthost_usage_requests{model="gpt-4.1"} 3.0' in text
    assert 'agenthost_usage_output_tokens{model="gpt-4.1"} 60.0' in text


async def test_running_agents_are_counted_by_health(user: User):
    owner = make_user()
    for status, health in (('running', 'healthy'), ('running', 'healthy'), ('running', 'unreachable'),
                           ('stopped', 'unreachable')):
        agent = make_agent(owner, status=status)
        Agent.update(health=health).where(Agent.id == agent.id).execute()
    text = (await user.http_client.get('/metrics')).text
    assert 'agenthost_agents_health{health="healthy"} 2.0' in text
    assert 'agenthost_agents_health{health="unreachable"} 1.0' in text
    assert 'agenthost_agents_health{health="degraded"} 0.0' in text
