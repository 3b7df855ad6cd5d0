"""Bad input never answers 500: odd signatures, hostile JSON, unstorable text and ids out of range are 4xx in the
API's error shape, naming the field at fault."""
import hashlib
import hmac
import json

import pytest
from nicegui.testing import User

from models import Agent, ApiToken, JobEvent, ProvisioningJob
from services.platform.inputs import MAX_DEPTH, MAX_NUMBER_DIGITS
from services.platform.settings import configure, load_settings
from services.provisioning import callbacks
from services.provisioning.callbacks import SignatureError
from tests.factories import PASSWORD, make_token, make_user
from tests.github_double import REPOSITORY, GitHubDouble
from tests.provisioning_support import (  # noqa: F401
    CALLBACK_SECRET,
    WEBHOOK_SECRET,
    dispatched_job,
    github,
    headers,
    owner,
    reload,
    signed_callback,
)

CALLBACK_URL = '/api/provisioning/callback'
GITHUB_URL = '/api/webhooks/github'
DEEP = b'[' * 100_000 + b']' * 100_000
LONG_NUMBER = b'{"name": ' + b'9' * 5000 + b'}'
ODD_SIGNATURE_VALUES = {
    'non-ASCII t': b't=\xe9\xe9,v1=abc',
    '5000-digit t': b't=' + b'9' * 5000 + b',v1=abc',
    'superscript digit t': 't=\u00b2,v1=abc'.encode('latin-1'),
    'non-ASCII v1': b't=1700000000,v1=\xff\xfe',
    '5000-digit v1': b't=1700000000,v1=' + b'1' * 5000,
}


def error_of(response) -> dict:
    assert set(response.json()) == {'error'}, response.text
    return response.json()['error']


@pytest.fixture
def job(dispatched_job: ProvisioningJob) -> ProvisioningJob:
    return dispatched_job


@pytest.mark.parametrize('header', ODD_SIGNATURE_VALUES.values(), ids=ODD_SIGNATURE_VALUES.keys())
async def test_an_odd_callback_signature_header_answers_401(job: ProvisioningJob, user: User, header: bytes):
    body, _ = signed_callback(job.id, 'succeeded')
    response = await user.http_client.post(CALLBACK_URL, content=body, headers={'X-AgentHost-Signature': header})
    assert response.status_code == 401
    assert error_of(response)['code'] == 'SIGNATURE_INVALID'
    assert reload(job).status == 'dispatched'


@pytest.mark.parametrize('header', [b'sha256=\xe9\xe9', b'sha256=' + b'9' * 5000, b'sha256=a,sha256=b', b'\xff'],
                         ids=['non-ASCII', '5000 digits', 'two digests', 'no key'])
async def test_an_odd_github_signature_header_answers_401(github: GitHubDouble, user: User, header: bytes):
    body = json.dumps({'action': 'completed', 'workflow_run': {}}).encode()
    response = await user.http_client.post(GITHUB_URL, content=body, headers={
        'X-Hub-Signature-256': header, 'X-GitHub-Event': 'workflow_run', 'X-GitHub-Delivery': 'd-1'})
    assert response.status_code == 401
    assert error_of(response)['code'] == 'SIGNATURE_INVALID'


@pytest.mark.parametrize('header', [b't=\xe9,v1=\xff', b't=' + b'9' * 5000 + b',v1=ab', b'v1=' + b'a' * 5000])
async def test_an_odd_stripe_signature_header_answers_400(user: User, monkeypatch, header: bytes):
    monkeypatch.setenv('STRIPE_WEBHOOK_SECRET', 'whsec_test')
    configure(load_settings())
    response = await user.http_client.post('/api/webhooks/stripe', content=b'{"id": "evt_1", "type": "x"}',
                                           headers={'Stripe-Signature': header})
    assert response.status_code == 400
    assert error_of(response)['code'] == 'BAD_SIGNATURE'


@pytest.mark.parametrize('content', [DEEP, LONG_NUMBER, b'{"name": 1e999}', b'{"name": NaN}'],
                         ids=['nested 100000 deep', '5000-digit number', 'infinite float', 'NaN'])
async def test_hostile_json_answers_400_on_the_api(user: User, content: bytes):
    headers = make_token(make_user('owner@example.com'))
    response = await user.http_client.post('/api/agents', content=content, headers=headers)
    assert response.status_code == 400
    assert error_of(response)['code'] == 'INVALID_JSON'
    assert not Agent.select().exists()


@pytest.mark.parametrize('content', [DEEP, LONG_NUMBER], ids=['nested 100000 deep', '5000-digit number'])
async def test_hostile_json_answers_400_on_the_unauthenticated_token_exchange(user: User, content: bytes):
    response = await user.http_client.post('/api/auth/token', content=content)
    assert response.status_code == 400
    assert error_of(response)['code'] == 'INVALID_JSON'


@pytest.mark.parametrize('content', [DEEP, b'{"job_id": ' + b'9' * 5000 + b', "status": "succeeded"}'],
                         ids=['nested 100000 deep', '5000-digit number'])
async def test_hostile_json_in_a_signed_callback_answers_400(job: ProvisioningJob, user: User, content: bytes):
    signature = callbacks.sign(content, CALLBACK_SECRET)
    response = await user.http_client.post(CALLBACK_URL, content=content, headers={'X-AgentHost-Signature': signature})
    assert response.status_code == 400
    assert error_of(response)['code'] == 'INVALID_JSON'


UNSTORABLE = {'NUL': '\\u0000', 'lone surrogate': '\\ud800', 'escape': '\\u001b[31m'}


@pytest.mark.parametrize('field', ['name', 'description', 'system_prompt'])
@pytest.mark.parametrize('text', UNSTORABLE.values(), ids=UNSTORABLE.keys())
async def test_unstorable_text_in_an_agent_field_answers_422_naming_it(user: User, field: str, text: str):
    headers = make_token(make_user('owner@example.com'))
    body = {'name': 'ok'} | {field: f'a{text}b'}
    content = json.dumps(body).replace('\\\\', '\\').encode()  # the escape reaches the server as JSON sends it
    response = await user.http_client.post('/api/agents', content=content, headers=headers)
    assert response.status_code == 422, response.text
    assert error_of(response) | {'message': ''} == {'code': 'INVALID_INPUT', 'field': field, 'message': ''}
    assert not Agent.select().exists()


async def test_line_breaks_stay_allowed_in_a_system_prompt(user: User):
    headers = make_token(make_user('owner@example.com'))
    response = await user.http_client.post('/api/agents', headers=headers,
                                           json={'name': 'ok', 'system_prompt': 'Be brief.\n\tAlways.'})
    assert response.status_code == 201


@pytest.mark.parametrize(('field', 'body'), [
    ('email', '{"email": "a\\u0000@example.com", "password": "%s"}' % PASSWORD),
    ('email', '{"email": "a\\ud800@example.com", "password": "%s"}' % PASSWORD),
    ('password', '{"email": "script@example.com", "password": "x\\ud800xxxxxxxx"}'),
    ('name', '{"email": "script@example.com", "password": "%s", "name": "n\\u0000"}' % PASSWORD),
    ('name', '{"email": "script@example.com", "password": "%s", "name": "n\\udfff"}' % PASSWORD),
], ids=['NUL in email', 'surrogate in email', 'surrogate in password', 'NUL in token name',
        'surrogate in token name'])
async def test_unstorable_text_in_the_token_exchange_answers_422_naming_the_field(user: User, field: str,
                                                                                   body: str):
    make_user('script@example.com')
    response = await user.http_client.post('/api/auth/token', content=body.encode())
    assert response.status_code == 422, response.text
    assert error_of(response)['field'] == field
    assert not ApiToken.select().where(ApiToken.name != 'tests').exists()


@pytest.mark.parametrize(('field', 'value'), [
    ('message', 'done\x00'), ('step', 'boot\ud800'), ('ip_address', '203.0.113.9\x1b'), ('run_id', '9' * 33),
    ('server_id', 's' * 65), ('step', 's' * 65), ('run_url', 'https://example.com/' + 'r' * 500),
])
async def test_a_signed_callback_with_unstorable_text_answers_422_naming_the_field(job: ProvisioningJob, user: User,
                                                                                   field: str, value: str):
    body, headers = signed_callback(job.id, 'in_progress', **{field: value})
    events_before = JobEvent.select().count()
    response = await user.http_client.post(CALLBACK_URL, content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert error_of(response)['field'] == field
    assert JobEvent.select().count() == events_before


@pytest.mark.parametrize('job_id', [10 ** 30, 2 ** 63, -1, 0, '1' + '0' * 30, '\u0661'])
async def test_a_signed_callback_for_an_id_the_database_cannot_hold_answers_422(github: GitHubDouble, user: User,
                                                                                job_id):
    body, headers = signed_callback(job_id, 'succeeded')
    response = await user.http_client.post(CALLBACK_URL, content=body, headers=headers)
    assert response.status_code == 422
    assert error_of(response)['field'] == 'job_id'


async def test_the_largest_id_the_database_holds_is_an_unknown_job(github: GitHubDouble, user: User):
    body, headers = signed_callback(2 ** 63 - 1, 'succeeded')
    response = await user.http_client.post(CALLBACK_URL, content=body, headers=headers)
    assert response.status_code == 404


@pytest.mark.parametrize('path', ['', '/events', '/deploy'])
async def test_an_agent_id_out_of_range_in_the_path_answers_422(user: User, path: str):
    headers = make_token(make_user('owner@example.com'))
    method = user.http_client.post if path == '/deploy' else user.http_client.get
    response = await method(f'/api/agents/{10 ** 30}{path}', headers=headers)
    assert response.status_code == 422
    assert error_of(response)['field'] == 'agent_id'


async def test_a_run_named_for_a_job_id_out_of_range_is_ignored(github: GitHubDouble, user: User):
    payload = {'action': 'completed', 'repository': {'full_name': REPOSITORY},
               'workflow_run': {'id': 77, 'name': f'agenthost provision {10 ** 30}',
                                'display_title': f'agenthost provision {10 ** 30}', 'conclusion': 'failure',
                                'html_url': 'https://github.com/o/r/actions/runs/77'}}
    body = json.dumps(payload).encode()
    signature = 'sha256=' + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = await user.http_client.post(GITHUB_URL, content=body, headers={
        'X-Hub-Signature-256': signature, 'X-GitHub-Event': 'workflow_run', 'X-GitHub-Delivery': 'd-77'})
    assert response.status_code == 200
    assert response.json()['result'] == 'ignored'


# The callback signature's freshness window, at both edges (decided without a clock: `now` is given).
SIGNED_AT = 1_700_000_000


@pytest.mark.parametrize('age', [-300, -299, 0, 299, 300])
def test_a_callback_signature_within_300_seconds_either_way_is_accepted(age: int):
    header = callbacks.sign(b'{}', 'secret', SIGNED_AT)
    callbacks.verify_callback_signature(b'{}', header, 'secret', now=SIGNED_AT + age)


@pytest.mark.parametrize('age', [-301, 301], ids=['from the future', 'stale'])
def test_a_callback_signature_301_seconds_away_is_refused(age: int):
    header = callbacks.sign(b'{}', 'secret', SIGNED_AT)
    with pytest.raises(SignatureError):
        callbacks.verify_callback_signature(b'{}', header, 'secret', now=SIGNED_AT + age)


# The 1 MiB body limit, at both edges, announced by Content-Length or streamed without one.
MIB = 1024 * 1024


def body_of(size: int) -> bytes:
    """A JSON object of exactly `size` bytes: a name and a (too long) description."""
    head, tail = b'{"name": "big", "description": "', b'"}'
    return head + b'x' * (size - len(head) - len(tail)) + tail


def streamed(body: bytes):
    async def chunks():
        for start in range(0, len(body), 100_000):
            yield body[start:start + 100_000]
    return chunks()


@pytest.mark.parametrize('send', ['with Content-Length', 'streamed'])
async def test_a_body_of_exactly_one_mebibyte_is_read(user: User, send: str):
    headers = make_token(make_user('owner@example.com'))
    body = body_of(MIB)
    assert len(body) == MIB
    response = await user.http_client.post('/api/agents', headers=headers,
                                           content=body if send == 'with Content-Length' else streamed(body))
    assert response.status_code == 422  # read and judged: the description is too long
    assert error_of(response)['field'] == 'description'


@pytest.mark.parametrize('send', ['with Content-Length', 'streamed'])
async def test_a_body_one_byte_over_one_mebibyte_answers_413(user: User, send: str):
    headers = make_token(make_user('owner@example.com'))
    body = body_of(MIB + 1)
    response = await user.http_client.post('/api/agents', headers=headers,
                                           content=body if send == 'with Content-Length' else streamed(body))
    assert response.status_code == 413
    assert error_of(response)['code'] == 'PAYLOAD_TOO_LARGE'
    assert not Agent.select().exists()


@pytest.mark.parametrize('send', ['with Content-Length', 'streamed'])
async def test_a_direct_endpoint_answers_413_for_a_body_over_one_mebibyte(user: User, send: str):
    body = body_of(MIB + 1)
    response = await user.http_client.post('/api/runtime/heartbeat', headers={'Authorization': 'Bearer rt_x'},
                                           content=body if send == 'with Content-Length' else streamed(body))
    assert (response.status_code, error_of(response)['code']) == (413, 'PAYLOAD_TOO_LARGE')


@pytest.mark.parametrize(('header', 'value'), [('X-GitHub-Delivery', 'd' * 256), ('X-GitHub-Event', 'e' * 129)])
async def test_an_oversized_unsigned_github_header_answers_422_naming_it(github: GitHubDouble, user: User,
                                                                        header: str, value: str):
    body = json.dumps({'action': 'completed', 'workflow_run': {}}).encode()
    signature = 'sha256=' + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {'X-Hub-Signature-256': signature, 'X-GitHub-Event': 'workflow_run', 'X-GitHub-Delivery': 'd-1'}
    response = await user.http_client.post(GITHUB_URL, content=body, headers={**headers, header: value})
    assert response.status_code == 422
    assert error_of(response)['field'] == header


@pytest.mark.parametrize(('depth', 'status'), [(MAX_DEPTH, 422), (MAX_DEPTH + 1, 400)])
async def test_json_nesting_is_read_up_to_the_depth_limit(user: User, depth: int, status: int):
    headers = make_token(make_user('owner@example.com'))
    content = b'{"name": ' + b'[' * (depth - 1) + b']' * (depth - 1) + b'}'
    response = await user.http_client.post('/api/agents', content=content, headers=headers)
    assert response.status_code == status  # 422: read, and `name` is not text; 400: refused unread


@pytest.mark.parametrize(('digits', 'status'), [(MAX_NUMBER_DIGITS, 422), (MAX_NUMBER_DIGITS + 1, 400)])
async def test_json_numbers_are_read_up_to_the_digit_limit(user: User, digits: int, status: int):
    headers = make_token(make_user('owner@example.com'))
    response = await user.http_client.post('/api/agents', content=b'{"name": ' + b'9' * digits + b'}',
                                           headers=headers)
    assert response.status_code == status
