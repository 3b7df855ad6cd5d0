import logging
from concurrent.futures import Future

import pytest

from models import Agent
from services.platform import notifications
from services.platform.settings import Settings, configure
from tests.factories import make_agent, make_user
from tests.smtp_server import MAIL_FROM, PASSWORD, Mailbox, smtp_server, smtps_server, trusted_ca  # noqa: F401
from tests.stripe_double import free_port


def sent(future: Future | None) -> bool:
    assert future is not None, 'nothing was sent'
    return future.result(timeout=30)


def test_agent_running_mails_the_owner_with_the_ip_and_a_link(smtp_server: Mailbox):
    agent = make_agent(make_user('owner@example.com'), name='Support bot', status='running')
    Agent.update(ip_address='203.0.113.9').where(Agent.id == agent.id).execute()
    agent = Agent.get_by_id(agent.id)
    assert sent(notifications.agent_running(agent))
    message = smtp_server.messages[-1]
    assert message['To'] == 'owner@example.com' and message['From'] == MAIL_FROM
    assert message['Subject'] == 'Your agent "Support bot" is running'
    body = message.get_content()
    assert '203.0.113.9' in body and f'http://localhost:8080/agents/{agent.id}' in body
    assert smtp_server.logins == ['mailer']


def test_agent_failed_names_the_reason_and_links_the_agent_page(smtp_server: Mailbox):
    agent = make_agent(make_user('owner@example.com'), status='failed')
    assert sent(notifications.agent_failed(agent, 'the workflow run timed out'))
    body = smtp_server.messages[-1].get_content()
    assert 'the workflow run timed out' in body and f'/agents/{agent.id}' in body and 'Retry' in body


def test_payment_failed_points_to_settings_and_names_the_grace_period(smtp_server: Mailbox):
    assert sent(notifications.payment_failed(make_user('payer@example.com')))
    message = smtp_server.messages[-1]
    assert message['To'] == 'payer@example.com'
    assert 'http://localhost:8080/settings' in message.get_content() and '3 days' in message.get_content()


def test_agent_stopped_for_billing_says_why(smtp_server: Mailbox):
    agent = make_agent(make_user('owner@example.com'), status='stopped')
    assert sent(notifications.agent_stopped_for_billing(agent, 'the subscription was canceled'))
    message = smtp_server.messages[-1]
    assert 'was stopped' in message['Subject']
    assert 'the subscription was canceled' in message.get_content()


def test_dispatch_failing_goes_to_every_admin_and_no_one_else(smtp_server: Mailbox):
    make_user('first-admin@example.com')
    make_user('customer@example.com')
    make_user('second-admin@example.com', is_admin=True)
    assert sent(notifications.dispatch_failing('provision job 7 (agent 3)', '401 Bad credentials'))
    envelope = smtp_server.envelopes[-1]
    assert sorted(envelope.rcpt_tos) == ['first-admin@example.com', 'second-admin@example.com']
    body = smtp_server.messages[-1].get_content()
    assert 'provision job 7 (agent 3)' in body and '401 Bad credentials' in body and '/admin' in body


def test_mail_leaves_over_tls_from_the_first_byte_with_smtps(smtps_server: Mailbox):
    assert sent(notifications.payment_failed(make_user('payer@example.com')))
    assert smtps_server.messages[-1]['To'] == 'payer@example.com'
    assert smtps_server.logins == ['mailer']


def test_a_secret_in_an_error_is_masked_in_the_mail(smtp_server: Mailbox):
    make_user('admin@example.com')
    assert sent(notifications.dispatch_failing('job 1', 'rejected Authorization: Bearer ghp_abcdefabcdef1234'))
    assert 'ghp_abcdefabcdef1234' not in smtp_server.messages[-1].get_content()


def test_without_smtp_url_nothing_is_sent_and_it_is_said_once_at_debug(monkeypatch, caplog):
    monkeypatch.setattr(notifications, '_said_disabled', False)
    agent = make_agent(make_user())
    with caplog.at_level(logging.DEBUG, logger=notifications.__name__):
        assert notifications.agent_running(agent) is None
        assert notifications.agent_failed(agent, 'x') is None
    said = [record for record in caplog.records if 'SMTP_URL' in record.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.DEBUG


def test_an_unreachable_mail_server_is_logged_without_the_password_and_never_raises(monkeypatch, caplog):
    monkeypatch.setenv('SMTP_URL', f'smtp://mailer:{PASSWORD}@127.0.0.1:{free_port()}')
    configure(Settings())
    with caplog.at_level(logging.INFO, logger=notifications.__name__):
        assert sent(notifications.payment_failed(make_user())) is False
    failures = [record for record in caplog.records if record.getMessage().startswith('mail not sent')]
    assert len(failures) == 1 and failures[0].levelno == logging.ERROR
    assert PASSWORD not in caplog.text and PASSWORD not in str(failures[0].__dict__)


def test_a_wrong_password_is_logged_without_the_password(smtp_server, monkeypatch, caplog):
    url = Settings().smtp_url.replace(PASSWORD, 'wrong-password-9')
    monkeypatch.setenv('SMTP_URL', url)
    configure(Settings())
    with caplog.at_level(logging.INFO, logger=notifications.__name__):
        assert sent(notifications.payment_failed(make_user())) is False
    assert 'SMTPAuthenticationError' in caplog.text and 'wrong-password-9' not in caplog.text
    assert smtp_server.messages == []


def test_a_failure_while_composing_never_reaches_the_caller(smtp_server, caplog):
    class Broken:
        id, name, ip_address = 1, 'Broken', None

        @property
        def owner(self):
            raise RuntimeError('owner vanished')

    with caplog.at_level(logging.ERROR, logger=notifications.__name__):
        assert notifications.agent_running(Broken()) is None
    assert 'composing it failed' in caplog.text


@pytest.mark.parametrize('url', ['mail.example.com:25', 'http://mail.example.com', 'smtp://'])
def test_a_malformed_smtp_url_is_refused_at_start(monkeypatch, url):
    from services.platform.settings import SettingsError, load_settings
    monkeypatch.setenv('SMTP_URL', url)
    with pytest.raises(SettingsError, match='SMTP_URL'):
        load_settings()
