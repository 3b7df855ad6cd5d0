"""Health and healing: an agent that stops heartbeating becomes unreachable, its owner hears once each way,
AgentHost provisions it again after AGENT_HEAL_MINUTES, and gives up after AGENT_HEAL_MAX heals a day."""
from datetime import timedelta

import pytest

from models import Agent, JobEvent, ProvisioningJob, utcnow
from services.platform.settings import Settings, configure
from services.provisioning import healing
from services.provisioning.jobs import _create_job, _finish
from services.runtime import heartbeats
from tests.factories import make_agent, make_entitled_user
from tests.smtp_server import Mailbox, smtp_server, trusted_ca, wait_for_mail  # noqa: F401

LONG_AGO = utcnow() - timedelta(days=1)


@pytest.fixture(autouse=True)
def intervals(isolated_environment, monkeypatch) -> None:  # noqa: ARG001
    monkeypatch.setenv('AGENT_HEARTBEAT_SECONDS', '10')
    monkeypatch.setenv('AGENT_HEAL_MINUTES', '5')
    monkeypatch.setenv('AGENT_HEAL_MAX', '2')
    configure(Settings())


def running_agent(*, silent_for: timedelta | None = None) -> Agent:
    """A running agent with its provision job; its last heartbeat `silent_for` ago (None: never one)."""
    agent = make_agent(make_entitled_user('owner@example.com'), status='running')
    job = _create_job(agent, kind='provision', goal='running', message='Deploy requested.')
    _finish(job, 'succeeded', agent_update=False)
    started = utcnow() - timedelta(hours=1)
    last = utcnow() - silent_for if silent_for is not None else None
    Agent.update(updated_at=started, last_heartbeat_at=last, health='healthy' if last else 'unknown') \
        .where(Agent.id == agent.id).execute()
    return Agent.get_by_id(agent.id)


def steps(agent: Agent) -> list[str]:
    return [event.step for event in JobEvent.select().join(ProvisioningJob)
            .where(ProvisioningJob.agent == agent.id).order_by(JobEvent.id)]


def beat(agent: Agent, seq: int = 1, status: str = 'ok', message: str = '') -> None:
    heartbeats.record_heartbeat(agent.id, {'boot_id': 'boot-1', 'seq': seq, 'revision': 1, 'status': status,
                                           'message': message, 'usage': {}})


def test_an_agent_silent_for_three_intervals_becomes_unreachable_on_its_timeline():
    agent = running_agent(silent_for=timedelta(seconds=31))
    assert healing.mark_unreachable_agents(LONG_AGO) == [agent.id]
    agent = Agent.get_by_id(agent.id)
    assert agent.health == 'unreachable' and agent.unreachable_since is not None
    assert 'No heartbeat for 31 s' in agent.health_message
    assert steps(agent)[-1] == 'unreachable'


def test_an_agent_that_missed_fewer_than_three_beats_stays_healthy():
    agent = running_agent(silent_for=timedelta(seconds=25))
    assert healing.mark_unreachable_agents(LONG_AGO) == []
    assert Agent.get_by_id(agent.id).health == 'healthy'


def test_an_agent_never_heard_from_is_unreachable_three_intervals_after_it_started_running():
    agent = running_agent()
    assert healing.mark_unreachable_agents(LONG_AGO) == [agent.id]
    assert 'No heartbeat since it started running' in Agent.get_by_id(agent.id).health_message


def test_silence_is_not_judged_until_agenthost_watched_for_three_intervals():
    """After AgentHost itself was down, every last heartbeat is old: the runtimes get time to get through."""
    agent = running_agent(silent_for=timedelta(minutes=10))
    assert healing.mark_unreachable_agents(utcnow() - timedelta(seconds=20)) == []
    assert healing.mark_unreachable_agents(utcnow() - timedelta(seconds=31)) == [agent.id]


def test_unreachable_and_recovered_are_mailed_once_each(smtp_server: Mailbox):
    agent = running_agent(silent_for=timedelta(minutes=1))
    healing.mark_unreachable_agents(LONG_AGO)
    healing.mark_unreachable_agents(LONG_AGO)
    wait_for_mail(smtp_server, 2)  # the deploy's "is running", then the silence
    beat(agent, seq=1)
    beat(agent, seq=2)
    wait_for_mail(smtp_server, 3)
    healing.mark_unreachable_agents(LONG_AGO)
    assert [mail['Subject'] for mail in smtp_server.messages] == [
        'Your agent "Support bot" is running', 'Your agent "Support bot" stopped answering',
        'Your agent "Support bot" answers again']
    assert steps(agent)[-2:] == ['unreachable', 'recovered']
    assert Agent.get_by_id(agent.id).health == 'healthy'


def test_a_runtime_that_reports_degraded_shows_its_message():
    agent = running_agent(silent_for=timedelta(seconds=1))
    beat(agent, status='degraded', message='the model provider answered 529: overloaded')
    agent = Agent.get_by_id(agent.id)
    assert (agent.health, agent.health_message) == ('degraded', 'the model provider answered 529: overloaded')


def test_an_agent_unreachable_for_heal_minutes_is_provisioned_again_with_a_healing_step():
    agent = running_agent(silent_for=timedelta(minutes=1))
    healing.mark_unreachable_agents(LONG_AGO)
    assert healing.heal_unreachable_agents(utcnow() + timedelta(minutes=4)) == []
    assert healing.heal_unreachable_agents(utcnow() + timedelta(minutes=5, seconds=1)) == [agent.id]
    heal = ProvisioningJob.select().where(ProvisioningJob.agent == agent.id).order_by(ProvisioningJob.id.desc()).get()
    assert (heal.kind, heal.status, heal.heal) == ('provision', 'queued', True)
    assert steps(agent)[-2:] == ['queued', 'healing']
    assert Agent.get_by_id(agent.id).status == 'provisioning'
    assert healing.heal_unreachable_agents(utcnow() + timedelta(minutes=10)) == []  # one heal at a time


def test_a_healed_agent_is_judged_afresh_and_its_first_heartbeat_says_it_recovered():
    agent = running_agent(silent_for=timedelta(minutes=1))
    healing.mark_unreachable_agents(LONG_AGO)
    [heal_id] = [job.id for job in [_heal(agent)]]
    _finish(ProvisioningJob.get_by_id(heal_id), 'succeeded')
    agent = Agent.get_by_id(agent.id)
    assert (agent.status, agent.health) == ('running', 'unknown')
    assert healing.mark_unreachable_agents(LONG_AGO) == []  # running again just now: silence counts from here
    beat(agent)
    assert steps(agent)[-1] == 'recovered' and Agent.get_by_id(agent.id).health == 'healthy'


def test_an_agent_whose_heals_are_used_up_fails_with_the_reason(smtp_server: Mailbox):
    agent = running_agent(silent_for=timedelta(minutes=1))
    for _ in range(2):
        healing.mark_unreachable_agents(LONG_AGO)
        _finish(_heal(agent), 'succeeded')
        Agent.update(updated_at=utcnow() - timedelta(hours=1)).where(Agent.id == agent.id).execute()
    healing.mark_unreachable_agents(LONG_AGO)
    assert healing.heal_unreachable_agents(utcnow() + timedelta(minutes=6)) == []
    agent = Agent.get_by_id(agent.id)
    assert agent.status == 'failed'
    assert 'provisioned it again 2 time(s) in the last 24 hours (AGENT_HEAL_MAX is 2)' in agent.status_reason
    assert steps(agent)[-1] == 'healing_stopped'
    assert any(mail['Subject'] == 'Your agent "Support bot" failed' for mail in wait_for_mail(smtp_server, 5))


def test_heals_older_than_a_day_do_not_count():
    agent = running_agent(silent_for=timedelta(minutes=1))
    for _ in range(2):
        healing.mark_unreachable_agents(LONG_AGO)
        _finish(_heal(agent), 'succeeded')
        Agent.update(updated_at=utcnow() - timedelta(hours=1)).where(Agent.id == agent.id).execute()
    ProvisioningJob.update(created_at=utcnow() - timedelta(hours=25)).where(ProvisioningJob.heal).execute()
    healing.mark_unreachable_agents(LONG_AGO)
    assert healing.heal_unreachable_agents(utcnow() + timedelta(minutes=6)) == [agent.id]


def _heal(agent: Agent) -> ProvisioningJob:
    [healed] = healing.heal_unreachable_agents(utcnow() + timedelta(minutes=6))
    assert healed == agent.id
    return ProvisioningJob.select().where(ProvisioningJob.heal).order_by(ProvisioningJob.id.desc()).get()
