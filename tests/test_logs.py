import io
import json
import logging
from collections.abc import Iterator

import pytest
from nicegui import ui
from nicegui.testing import User

from services.platform import logs
from services.platform.settings import Settings, configure
from tests.factories import PASSWORD, make_token, make_user
from tests.stripe_double import API_KEY, WEBHOOK_SECRET, StripeDouble, stripe_double  # noqa: F401

SECRETS = {
    'GITHUB_TOKEN': 'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
    'GITHUB_WEBHOOK_SECRET': "It's a Secret to Everybody",
    'CALLBACK_SECRET': 'cb-3f9a7c1e5d2b4a6089f1',
    'STORAGE_SECRET': 'storage-8d1c0b6e2f4a9735',
    'ANTHROPIC_API_KEY': 'sk-ant-api03-a1b2c3d4e5f6',
    'OPENAI_API_KEY': 'sk-proj-9f8e7d6c5b4a',
}
SMTP_PASSWORD = 'mail-pw-5e8a1d'
SMTP_URL = f'smtp://mailer:{SMTP_PASSWORD}@127.0.0.1:2525'


class CapturedLogs:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def captured_logs(monkeypatch) -> Iterator[CapturedLogs]:
    """Every logger, down to DEBUG, through the app's handler as JSON lines, with every secret setting set."""
    for name, value in {**SECRETS, 'SMTP_URL': SMTP_URL, 'LOG_FORMAT': 'json'}.items():
        monkeypatch.setenv(name, value)
    settings = configure(Settings())
    root = logging.getLogger()
    previous_level = root.level
    stream = io.StringIO()
    handler = logs.configure_logging(settings, stream=stream, level=logging.DEBUG)
    yield CapturedLogs(stream)
    root.removeHandler(handler)
    root.setLevel(previous_level)


def log_through(handler_format: str, *args, **kwargs) -> str:
    """Log one record through a fresh app handler; returns what it wrote."""
    stream = io.StringIO()
    settings = Settings(log_format=handler_format, smtp_url=SMTP_URL, **{k.lower(): v for k, v in SECRETS.items()})
    handler = logs.configure_logging(settings, stream=stream)
    try:
        logging.getLogger('tests.logs').info(*args, **kwargs)
    finally:
        logging.getLogger().removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize('secret', [*SECRETS.values(), SMTP_PASSWORD])
def test_values_of_secret_settings_are_masked_wherever_they_appear(secret):
    written = log_through('text', 'configured with %s (and %r)', secret, {'value': secret})
    assert secret not in written
    assert logs.MASK in written


@pytest.mark.parametrize('line', [
    "headers {'authorization': 'Bearer ah_live_token_value_1234'}",
    'Authorization: Bearer ah_live_token_value_1234',
    'Stripe-Signature: t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd',
    "{'stripe-signature': 't=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd'}",
    'X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
    'X-AgentHost-Signature: t=1700000000,v1=0f3a47d2b1c9e8a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a291807',
    'token ah_live_token_value_1234 created',
    'key sk_live_51Hx8cYbY4j0jKq1live and sk_test_double',
    'endpoint secret whsec_live_9Qm2x7t',
    'login with password=hunter2hunter2',
    "form {'email': 'a@example.com', 'password': 'correct horse battery'}",
    '{"password": "correct horse battery"}',
    'connecting to smtps://mailer:s3cr3t-pass@mail.example.com:465',
    "INSERT INTO user VALUES ('a@example.com', '$argon2id$v=19$m=65536,t=3,p=4$DZOyu1lin+dTLUAWUHNFbA$i3187xaqU')",
])
def test_credentials_are_masked_by_their_shape(line):
    secrets = ('ah_live_token_value_1234', '5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd',
               '757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17', '0f3a47d2b1c9e8a7f6e5d4c3b2a19',
               'sk_live_51Hx8cYbY4j0jKq1live', 'sk_test_double', 'whsec_live_9Qm2x7t', 'hunter2hunter2',
               'correct horse battery', 's3cr3t-pass', 'DZOyu1lin+dTLUAWUHNFbA$i3187xaqU')
    written = log_through('text', line)
    assert not [secret for secret in secrets if secret in written], written
    assert logs.MASK in written


def test_a_careless_log_of_the_settings_object_leaks_no_secret():
    settings = Settings(smtp_url=SMTP_URL, stripe_secret_key='sk_live_abcdef123456',
                        stripe_webhook_secret='whsec_abcdef123456', **{k.lower(): v for k, v in SECRETS.items()})
    written = log_through('json', 'settings %r', settings)
    for secret in [*SECRETS.values(), SMTP_PASSWORD, 'sk_live_abcdef123456', 'whsec_abcdef123456']:
        assert secret not in written


def test_a_traceback_stays_on_one_line_and_is_masked():
    stream = io.StringIO()
    handler = logs.configure_logging(Settings(log_format='text'), stream=stream)
    try:
        raise RuntimeError('refused: password=hunter2hunter2')
    except RuntimeError:
        logging.getLogger('tests.logs').exception('dispatch failed', extra={'job_id': 42})
    finally:
        logging.getLogger().removeHandler(handler)
    written = stream.getvalue()
    assert written.count('\n') == 1
    assert 'dispatch failed' in written and 'job_id=42' in written and 'RuntimeError' in written
    assert 'hunter2hunter2' not in written


def test_json_lines_carry_the_extra_ids_as_fields():
    written = log_through('json', 'job dispatched', extra={'job_id': 7, 'event_id': 'evt_1', 'agent_id': 3})
    line = json.loads(written)
    assert line['message'] == 'job dispatched' and line['level'] == 'INFO' and line['logger'] == 'tests.logs'
    assert (line['job_id'], line['event_id'], line['agent_id']) == (7, 'evt_1', 3)
    assert line['time'].endswith('Z')


def test_configuring_again_replaces_the_handler_instead_of_doubling_lines():
    stream = io.StringIO()
    logs.configure_logging(Settings(), stream=io.StringIO())
    handler = logs.configure_logging(Settings(), stream=stream)
    try:
        logging.getLogger('tests.logs').info('once')
        assert [h.get_name() for h in logging.getLogger().handlers].count(logs.HANDLER_NAME) == 1
    finally:
        logging.getLogger().removeHandler(handler)
    assert stream.getvalue().count('once') == 1


@pytest.mark.parametrize(('method', 'path'), [('GET', '/healthz'), ('POST', '/api/runtime/heartbeat')])
async def test_every_response_carries_a_request_id(user: User, method: str, path: str):
    first = await user.http_client.request(method, path, headers={'Authorization': 'Bearer rt_x'})
    second = await user.http_client.request(method, path, headers={'Authorization': 'Bearer rt_x'})
    assert len(first.headers['x-request-id']) >= 16
    assert first.headers['x-request-id'] != second.headers['x-request-id']


@pytest.mark.parametrize(('method', 'path'), [('GET', '/healthz'), ('POST', '/api/runtime/heartbeat')])
async def test_a_callers_request_id_is_kept_and_a_malformed_one_replaced(user: User, method: str, path: str):
    kept = await user.http_client.request(method, path, headers={'X-Request-ID': 'lb-4711.abc',
                                                                'Authorization': 'Bearer rt_x'})
    replaced = await user.http_client.request(method, path, headers={'X-Request-ID': 'bad id\nlevel=ERROR',
                                                                    'Authorization': 'Bearer rt_x'})
    assert kept.headers['x-request-id'] == 'lb-4711.abc'
    assert replaced.headers['x-request-id'] != 'bad id\nlevel=ERROR' and ' ' not in replaced.headers['x-request-id']


async def test_log_lines_of_a_request_carry_its_id_also_from_worker_threads(stripe_double, captured_logs,
                                                                            user: User):
    event = stripe_double.event('customer.tax_id.created', {'id': 'txi_1'})
    payload, headers = stripe_double.signed(event)
    await user.http_client.post('/api/webhooks/stripe', content=payload, headers={**headers,
                                                                                 'X-Request-ID': 'trace-77'})
    received = [line for line in captured_logs.lines() if line['message'] == 'stripe event received']
    access = [line for line in captured_logs.lines() if line.get('path') == '/api/webhooks/stripe']
    assert received and received[0]['request_id'] == 'trace-77' and received[0]['event_id'] == event['id']
    assert access and access[0]['request_id'] == 'trace-77' and access[0]['status'] == 200


async def test_no_secret_token_password_or_signature_reaches_the_logs(stripe_double: StripeDouble, captured_logs,
                                                                      user: User):
    # sign up and log in with a password, through the pages
    await user.open('/signup')
    user.find(marker='email').type('owner@example.com')
    user.find(marker='password').type(PASSWORD)
    user.find(kind=ui.button, content='Sign up').click()
    await user.should_see('No agents yet', retries=50)
    await user.http_client.post('/api/auth/token', json={'email': 'owner@example.com', 'password': PASSWORD})
    # an API call with a bearer token
    headers = make_token(make_user())
    assert (await user.http_client.get('/api/agents', headers=headers)).status_code == 200
    # a Stripe webhook with a signature, and one with a forged signature
    event = stripe_double.event('customer.tax_id.created', {'id': 'txi_1'})
    payload, signed = stripe_double.signed(event)
    assert (await user.http_client.post('/api/webhooks/stripe', content=payload, headers=signed)).status_code == 200
    forged = stripe_double.sign(payload, secret='whsec_forged')
    await user.http_client.post('/api/webhooks/stripe', content=payload, headers={'Stripe-Signature': forged})

    written = captured_logs.text
    assert 'stripe event received' in written and '"path": "/api/agents"' in written  # the logs are not empty
    leaks = [*SECRETS.values(), SMTP_PASSWORD, API_KEY, WEBHOOK_SECRET, PASSWORD,
             headers['Authorization'].removeprefix('Bearer '), signed['Stripe-Signature'].split('v1=')[1],
             forged.split('v1=')[1]]
    assert [leak for leak in leaks if leak in written] == []


def test_the_command_line_writes_json_lines_when_asked(monkeypatch, tmp_path):
    from tests.test_cli import run_cli
    monkeypatch.setenv('LOG_FORMAT', 'json')
    monkeypatch.setenv('DATABASE_URL', f'sqlite:///{tmp_path}/fresh.db')
    result = run_cli('migrate')
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # every line is one JSON object
    migrations = [line['message'] for line in lines if line['logger'] == 'peewee.migrations']
    assert migrations[0] == 'up: 0001_initial' and all(line['time'].endswith('Z') for line in lines)
