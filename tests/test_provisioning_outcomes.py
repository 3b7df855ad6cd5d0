"""What a finished job tells people and operators: mail to the owner (and admins), and metrics."""
from nicegui.testing import User

from tests.factories import make_agent, make_user
from tests.github_double import PERMANENT, GitHubDouble
from tests.provisioning_support import deploy, dispatched_job, github, headers, owner, post_report, wait_dispatched  # noqa: F401
from tests.smtp_server import Mailbox, smtp_server, trusted_ca, wait_for_mail  # noqa: F401


async def test_a_running_agent_mails_its_owner(github: GitHubDouble, smtp_server: Mailbox, user: User,
                                               dispatched_job):
    assert (await post_report(user, dispatched_job.id, 'succeeded', ip_address='203.0.113.7')).status_code == 200
    message = wait_for_mail(smtp_server)[-1]
    assert message['To'] == 'owner@example.com' and 'running' in message['Subject']
    assert '203.0.113.7' in message.get_content()


async def test_a_failed_agent_mails_its_owner_a_plain_reason_without_operator_details(
        github: GitHubDouble, smtp_server: Mailbox, user: User, dispatched_job):
    await post_report(user, dispatched_job.id, 'failed', message='server quota exceeded')
    message = wait_for_mail(smtp_server)[-1]
    assert 'failed' in message['Subject'] and 'problem on our side' in message.get_content()
    assert 'server quota exceeded' not in message.get_content()


async def test_a_refused_dispatch_mails_the_admins(github: GitHubDouble, smtp_server: Mailbox, user: User,
                                                   owner, headers):
    make_user('second-admin@example.com', is_admin=True)
    github.fail_next(PERMANENT[403][0])
    job = await wait_dispatched((await deploy(user, make_agent(owner), headers))['id'])
    assert job.status == 'failed'
    to_admins = [m for m in wait_for_mail(smtp_server, 2) if 'dispatching' in m['Subject']]
    assert len(to_admins) == 1 and 'second-admin@example.com' in to_admins[0]['To']
    assert 'Actions: write' in to_admins[0].get_content()


async def test_dispatches_and_callbacks_show_in_the_metrics(github: GitHubDouble, user: User, dispatched_job):
    await post_report(user, dispatched_job.id, 'succeeded', ip_address='203.0.113.7')
    text = (await user.http_client.get('/metrics')).text
    assert 'agenthost_dispatch_attempts_total{outcome="accepted"}' in text
    assert 'agenthost_dispatch_duration_seconds_count' in text
    assert 'agenthost_callback_latency_seconds_count' in text
    assert 'agenthost_provisioning_duration_seconds_count' in text
    assert 'agenthost_event_loop_lag_max_seconds' in text
