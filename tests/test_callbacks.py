"""`POST /api/provisioning/callback`: signed, fresh, forward-only."""
import time

import pytest
from nicegui.testing import User

from models import JobEvent, ProvisioningJob
from services.provisioning import callbacks
from services.provisioning.callbacks import SignatureError
from tests.github_double import GitHubDouble
from tests.provisioning_support import dispatched_job, github, headers, owner, reload, signed_callback  # noqa: F401

URL = '/api/provisioning/callback'


@pytest.fixture
def job(dispatched_job: ProvisioningJob) -> ProvisioningJob:
    return dispatched_job


async def post(user: User, body: bytes, headers: dict):
    return await user.http_client.post(URL, content=body, headers=headers)


@pytest.mark.parametrize('tamper', ['wrong secret', 'stale', 'from the future', 'missing', 'malformed',
                                    'body changed'])
async def test_a_bad_or_stale_signature_answers_401_and_changes_nothing(job: ProvisioningJob, user: User, tamper):
    body, headers = signed_callback(job.id, 'succeeded', ip_address='203.0.113.9')
    if tamper == 'wrong secret':
        body, headers = signed_callback(job.id, 'succeeded', secret='not-the-secret', ip_address='203.0.113.9')
    elif tamper == 'stale':
        body, headers = signed_callback(job.id, 'succeeded', timestamp=int(time.time()) - 301)
    elif tamper == 'from the future':
        body, headers = signed_callback(job.id, 'succeeded', timestamp=int(time.time()) + 310)
    elif tamper == 'missing':
        headers = {'Content-Type': 'application/json'}
    elif tamper == 'malformed':
        headers = {'X-AgentHost-Signature': 'v1=abc'}
    else:
        body = body.replace(b'203.0.113.9', b'198.51.100.1')
    events_before = JobEvent.select().count()
    response = await post(user, body, headers)
    assert response.status_code == 401
    assert response.json()['error']['code'] == 'SIGNATURE_INVALID'
    assert reload(job).status == 'dispatched'
    assert reload(job.agent).ip_address is None
    assert JobEvent.select().count() == events_before


async def test_a_signature_from_a_rotated_secret_is_accepted_when_one_v1_matches(job: ProvisioningJob, user: User):
    body, headers = signed_callback(job.id, 'in_progress', step='started')
    old = callbacks.sign(body, 'the-old-secret').split(',v1=')[1]
    headers['X-AgentHost-Signature'] += f',v1={old}'
    assert (await post(user, body, headers)).status_code == 200


async def test_an_unknown_job_answers_404(github: GitHubDouble, user: User):  # noqa: ARG001
    body, headers = signed_callback(424242, 'in_progress')
    response = await post(user, body, headers)
    assert response.status_code == 404
    assert response.json()['error']['code'] == 'NOT_FOUND'


@pytest.mark.parametrize(('payload', 'field'), [({'job_id': 'x', 'status': 'succeeded'}, 'job_id'),
                                                ({'job_id': 1, 'status': 'done'}, 'status'),
                                                ({'job_id': 1, 'status': 'progress', 'message': ['x']}, 'message')])
async def test_a_malformed_report_answers_422_naming_the_field(github: GitHubDouble, user: User, payload,  # noqa: ARG001
                                                               field):
    import json
    body = json.dumps(payload).encode()
    response = await post(user, body, {'X-AgentHost-Signature': callbacks.sign(body, 'callback-secret-for-tests')})
    assert response.status_code == 422
    assert response.json()['error']['field'] == field


async def test_without_a_callback_secret_callbacks_answer_503(user: User):
    body = b'{"job_id": 1, "status": "succeeded"}'
    response = await post(user, body, {'X-AgentHost-Signature': callbacks.sign(body, 'anything')})
    assert response.status_code == 503


async def test_a_late_or_repeated_callback_for_a_finished_job_changes_nothing(job: ProvisioningJob, user: User):
    body, headers = signed_callback(job.id, 'succeeded', step='running', ip_address='203.0.113.7', server_id='7')
    assert (await post(user, body, headers)).json()['changed'] is True
    events = JobEvent.select().count()
    updated_at = reload(job.agent).updated_at

    assert (await post(user, body, headers)).json() == {'job_id': job.id, 'status': 'succeeded', 'changed': False}
    for status, fields in (('failed', {'message': 'late failure'}), ('in_progress', {}),
                           ('progress', {'step': 'server_created', 'ip_address': '198.51.100.1'})):
        late, late_headers = signed_callback(job.id, status, **fields)
        response = await post(user, late, late_headers)
        assert response.status_code == 200 and response.json()['changed'] is False
    agent = reload(job.agent)
    assert (agent.status, agent.ip_address, agent.updated_at) == ('running', '203.0.113.7', updated_at)
    assert reload(job).status == 'succeeded'
    assert JobEvent.select().count() == events


async def test_a_repeated_progress_report_is_recorded_once(job: ProvisioningJob, user: User):
    body, headers = signed_callback(job.id, 'progress', step='server_created', message='Server 7 created')
    assert (await post(user, body, headers)).json()['changed'] is True
    assert (await post(user, body, headers)).json()['changed'] is False
    assert JobEvent.select().where(JobEvent.step == 'server_created').count() == 1


async def test_progress_never_moves_a_job_backwards(job: ProvisioningJob, user: User):
    for status, step in (('progress', 'agent_starting'), ('in_progress', 'started'), ('progress', 'server_created')):
        body, headers = signed_callback(job.id, status, step=step, message=step)
        assert (await post(user, body, headers)).status_code == 200
    job = reload(job)
    assert (job.status, job.step) == ('in_progress', 'agent_starting')


def test_signatures_are_checked_over_the_raw_bytes_in_constant_time():
    body = b'{"job_id": 1}'
    header = callbacks.sign(body, 'secret', timestamp=1_700_000_000)
    callbacks.verify_callback_signature(body, header, 'secret', now=1_700_000_100)
    with pytest.raises(SignatureError):
        callbacks.verify_callback_signature(body + b' ', header, 'secret', now=1_700_000_100)
    with pytest.raises(SignatureError):
        callbacks.verify_callback_signature(body, header, 'secret', now=1_700_000_301)


def test_the_github_signature_matches_githubs_own_test_vector():
    callbacks.verify_hub_signature(b'Hello, World!', 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b'
                                   '043e17', "It's a Secret to Everybody")
    with pytest.raises(SignatureError):
        callbacks.verify_hub_signature(b'Hello, World?', 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4'
                                       '379c8b043e17', "It's a Secret to Everybody")


def timeline_of(job: ProvisioningJob) -> list[tuple[str, str]]:
    return [(event.step, event.message) for event in
            JobEvent.select().where(JobEvent.job == job.id).order_by(JobEvent.id)]


async def test_a_final_callback_with_its_own_step_keeps_that_step_before_the_final_one(job: ProvisioningJob,
                                                                                       user: User):
    before = timeline_of(job)
    for status, step, message in (('progress', 'server_created', 'Server 7 created'),
                                  ('succeeded', 'health_check', 'Agent answers on port 443')):
        body, headers = signed_callback(job.id, status, step=step, message=message)
        assert (await post(user, body, headers)).json()['changed'] is True
    added = timeline_of(job)[len(before):]
    assert [step for step, _ in added] == ['server_created', 'health_check', 'running']
    assert added[1] == ('health_check', 'Agent answers on port 443')
    assert reload(job).status == 'succeeded'


async def test_a_final_callback_repeating_an_earlier_step_adds_only_the_final_step(job: ProvisioningJob,
                                                                                   user: User):
    before = timeline_of(job)
    for status in ('progress', 'succeeded'):
        body, headers = signed_callback(job.id, status, step='agent_starting', message='Agent starting')
        assert (await post(user, body, headers)).json()['changed'] is True
    assert [step for step, _ in timeline_of(job)[len(before):]] == ['agent_starting', 'running']


async def test_a_failed_callback_with_its_own_step_keeps_that_step_before_the_failure(job: ProvisioningJob,
                                                                                      user: User):
    before = timeline_of(job)
    body, headers = signed_callback(job.id, 'failed', step='agent_starting', message='Image pull failed')
    assert (await post(user, body, headers)).json()['changed'] is True
    added = timeline_of(job)[len(before):]
    assert [step for step, _ in added] == ['agent_starting', 'failed']
    assert added[0] == ('agent_starting', 'Image pull failed')


async def test_a_succeeded_callback_naming_the_final_step_records_it_once(job: ProvisioningJob, user: User):
    before = timeline_of(job)
    body, headers = signed_callback(job.id, 'succeeded', step='running', message='Up at 203.0.113.7')
    assert (await post(user, body, headers)).json()['changed'] is True
    assert timeline_of(job)[len(before):] == [('running', 'Up at 203.0.113.7')]
