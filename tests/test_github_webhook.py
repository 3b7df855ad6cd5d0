"""`POST /api/webhooks/github`: verified, deduplicated `workflow_run` events as the safety net."""
import hashlib
import hmac
import json

import pytest
from nicegui.testing import User

from models import ProvisioningJob, WebhookDelivery, WebhookEvent
from tests.factories import make_agent, make_entitled_user, make_token
from tests.github_double import Answer, GitHubDouble
from tests.provisioning_support import dispatched_job, eventually, github, headers, owner, reload  # noqa: F401

URL = '/api/webhooks/github'


@pytest.fixture
def job(dispatched_job: ProvisioningJob) -> ProvisioningJob:
    return dispatched_job


def run_of(github: GitHubDouble, job: ProvisioningJob) -> dict:
    [run] = github.runs_for(job.id)
    return run


@pytest.mark.parametrize('conclusion', ['failure', 'cancelled', 'timed_out'])
async def test_a_run_that_ends_badly_fails_its_job_with_the_run_url(github: GitHubDouble, user: User,
                                                                    job: ProvisioningJob, conclusion):
    run = github.set_run(int(job.run_id), status='completed', conclusion=conclusion)
    body, headers = github.workflow_run_delivery(run, 'completed')
    response = await user.http_client.post(URL, content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()['result'] == 'processed'
    job = reload(job)
    assert job.status == 'failed'
    assert job.run_url == run['html_url']
    assert run['html_url'] in job.last_error and conclusion in job.last_error
    agent = reload(job.agent)
    assert agent.status == 'failed' and run['html_url'] in agent.status_reason
    assert WebhookEvent.get().status == 'processed'


async def test_an_in_progress_run_marks_its_job_in_progress(github: GitHubDouble, user: User, job: ProvisioningJob):
    run = github.set_run(int(job.run_id), status='in_progress')
    body, headers = github.workflow_run_delivery(run, 'in_progress')
    assert (await user.http_client.post(URL, content=body, headers=headers)).status_code == 200
    assert reload(job).status == 'in_progress'


async def test_a_run_is_matched_by_the_job_id_in_its_name_when_its_id_is_unknown(github: GitHubDouble, user: User):
    github.default = Answer(204)  # an older server: dispatch names no run
    owner = make_entitled_user('owner@example.com')
    agent = make_agent(owner)
    job_id = (await user.http_client.post(f'/api/agents/{agent.id}/deploy', headers=make_token(owner))) \
        .json()['job']['id']
    job = await eventually(lambda: (job := ProvisioningJob.get_by_id(job_id)).status == 'dispatched' and job,
                           'the dispatch')
    assert job.run_id is None
    run = github.set_run(run_of(github, job)['id'], status='completed', conclusion='failure')
    body, headers = github.workflow_run_delivery(run, 'completed')
    assert (await user.http_client.post(URL, content=body, headers=headers)).status_code == 200
    job = reload(job)
    assert (job.status, job.run_id, job.run_url) == ('failed', str(run['id']), run['html_url'])


async def test_a_repeated_delivery_is_stored_once_and_changes_nothing(github: GitHubDouble, user: User,
                                                                      job: ProvisioningJob):
    run = github.set_run(int(job.run_id), status='completed', conclusion='failure')
    body, headers = github.workflow_run_delivery(run, 'completed', delivery='delivery-1')
    await user.http_client.post(URL, content=body, headers=headers)
    failed_at = reload(job).updated_at
    response = await user.http_client.post(URL, content=body, headers=headers)
    assert response.status_code == 200 and response.json()['duplicate'] is True
    assert WebhookEvent.select().count() == 1
    assert [d.result for d in WebhookDelivery.select().order_by(WebhookDelivery.id)] == ['accepted', 'duplicate']
    assert reload(job).updated_at == failed_at


async def test_a_successful_run_or_another_event_is_ignored(github: GitHubDouble, user: User, job: ProvisioningJob):
    run = github.set_run(int(job.run_id), status='completed', conclusion='success')
    body, headers = github.workflow_run_delivery(run, 'completed')
    assert (await user.http_client.post(URL, content=body, headers=headers)).json()['result'] == 'ignored'
    ping = json.dumps({'zen': 'Keep it logically awesome.'}).encode()
    _, ping_headers = github.workflow_run_delivery(run, 'completed')
    ping_headers.update({'X-GitHub-Event': 'ping', 'X-GitHub-Delivery': 'ping-1', 'X-Hub-Signature-256':
                         'sha256=' + hmac.new(github.webhook_secret.encode(), ping, hashlib.sha256).hexdigest()})
    assert (await user.http_client.post(URL, content=ping, headers=ping_headers)).status_code == 200
    assert reload(job).status == 'dispatched'


async def test_a_run_of_another_repository_is_ignored(github: GitHubDouble, user: User, job: ProvisioningJob):
    run = github.set_run(int(job.run_id), status='completed', conclusion='failure')
    body, headers = github.workflow_run_delivery(run, 'completed', repository='someone/else')
    assert (await user.http_client.post(URL, content=body, headers=headers)).json()['result'] == 'ignored'
    assert reload(job).status == 'dispatched'


@pytest.mark.parametrize('signature', ['wrong secret', 'missing'])
async def test_a_bad_signature_answers_401_and_stores_nothing(github: GitHubDouble, user: User,
                                                              job: ProvisioningJob, signature):
    run = github.set_run(int(job.run_id), status='completed', conclusion='failure')
    body, headers = github.workflow_run_delivery(run, 'completed', secret='wrong')
    if signature == 'missing':
        del headers['X-Hub-Signature-256']
    response = await user.http_client.post(URL, content=body, headers=headers)
    assert response.status_code == 401
    assert not WebhookEvent.select().exists() and not WebhookDelivery.select().exists()
    assert reload(job).status == 'dispatched'


async def test_without_a_webhook_secret_the_endpoint_answers_503(user: User):
    response = await user.http_client.post(URL, content=b'{}', headers={'X-Hub-Signature-256': 'sha256=00'})
    assert response.status_code == 503
    assert not WebhookEvent.select().exists()


async def test_a_run_of_another_workflow_with_a_matching_title_is_ignored(github: GitHubDouble, user: User):
    github.default = Answer(204)  # the job does not know its run: only the workflow tells the runs apart
    owner = make_entitled_user('owner@example.com')
    agent = make_agent(owner)
    job_id = (await user.http_client.post(f'/api/agents/{agent.id}/deploy', headers=make_token(owner))) \
        .json()['job']['id']
    await eventually(lambda: ProvisioningJob.get_by_id(job_id).status == 'dispatched', 'the dispatch')
    namesake = github.add_run(path='.github/workflows/other.yml', workflow_id=999, name='Other',
                              display_title=f'agenthost provision {job_id}', status='completed', conclusion='failure')
    body, headers = github.workflow_run_delivery(namesake, 'completed')
    assert (await user.http_client.post(URL, content=body, headers=headers)).json()['result'] == 'ignored'
    job = ProvisioningJob.get_by_id(job_id)
    assert (job.status, job.run_id) == ('dispatched', None)


async def test_a_run_of_the_workflow_by_numeric_id_is_matched(github: GitHubDouble, user: User, job: ProvisioningJob,
                                                              monkeypatch):
    from services.platform.settings import Settings, configure
    monkeypatch.setenv('GITHUB_WORKFLOW', str(run_of(github, job)['workflow_id']))
    configure(Settings())
    run = github.set_run(int(job.run_id), status='completed', conclusion='failure')
    body, headers = github.workflow_run_delivery(run, 'completed')
    assert (await user.http_client.post(URL, content=body, headers=headers)).json()['result'] == 'processed'
    assert reload(job).status == 'failed'


async def test_a_run_of_another_workflow_id_is_ignored_when_the_workflow_is_set_by_id(github: GitHubDouble,
                                                                                      user: User,
                                                                                      job: ProvisioningJob,
                                                                                      monkeypatch):
    from services.platform.settings import Settings, configure
    monkeypatch.setenv('GITHUB_WORKFLOW', '161335')
    configure(Settings())
    run = github.set_run(int(job.run_id), status='completed', conclusion='failure')
    run['workflow_id'] = 424242
    body, headers = github.workflow_run_delivery(run, 'completed')
    assert (await user.http_client.post(URL, content=body, headers=headers)).json()['result'] == 'ignored'
    assert reload(job).status == 'dispatched'


async def test_a_namesake_run_of_the_same_workflow_is_ignored_once_the_job_knows_its_run(github: GitHubDouble,
                                                                                         user: User,
                                                                                         job: ProvisioningJob):
    known_run_id = job.run_id
    assert known_run_id is not None
    namesake = github.add_run(display_title=f'agenthost provision {job.id}', status='completed',
                              conclusion='failure')
    body, headers = github.workflow_run_delivery(namesake, 'completed')
    assert (await user.http_client.post(URL, content=body, headers=headers)).json()['result'] == 'ignored'
    job = reload(job)
    assert (job.status, job.run_id) == ('dispatched', known_run_id)
