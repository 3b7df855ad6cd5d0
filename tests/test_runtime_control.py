"""The control plane a runtime talks to: config revisions, the long poll, runtime tokens, bootstrap, heartbeats."""
import asyncio
import json
import time

import pytest
from nicegui.testing import User

from models import Agent, AgentRevision, AgentStatus, AgentUsage, RuntimeToken
from services.platform.settings import Settings, configure
from services.provisioning import callbacks
from services.runtime import api_keys, config, heartbeats, tokens
from services.runtime.errors import RuntimeControlError
from tests.factories import make_agent, make_token, make_user
from tests.provisioning_support import (  # noqa: F401
    CALLBACK_SECRET,
    dispatched_job,
    github,
    headers,
    owner,
    post_report,
)


@pytest.fixture
def running_agent():
    account = make_user('runner@example.com')
    agent = make_agent(account, status='running', system_prompt='You are Otto.', model='gpt-4.1')
    return agent, make_token(account), tokens.mint(agent.id, None)


def bearer(token: str) -> dict[str, str]:
    return {'Authorization': f'Bearer {token}'}


async def fetch_config(user: User, token: str, **params) -> object:
    return await user.http_client.get('/api/runtime/config', params=params, headers=bearer(token))


async def beat(user: User, token: str, seq: int, requests: int, *, boot_id: str = 'boot-1', revision: int = 1,
               status: str = 'ok', message: str = '') -> object:
    body = {'boot_id': boot_id, 'seq': seq, 'revision': revision, 'status': status, 'message': message,
            'usage': {'requests': requests, 'input_tokens': 10 * requests, 'output_tokens': 20 * requests}}
    return await user.http_client.post('/api/runtime/heartbeat', json=body, headers=bearer(token))


def used_requests(agent_id: int) -> int:
    return sum(row.requests for row in AgentUsage.select().where(AgentUsage.agent == agent_id))


# --- revisions ----------------------------------------------------------------------------------------------------

def test_a_new_agent_has_revision_one_with_its_configuration():
    agent = make_agent(make_user(), system_prompt='Be brief.')
    revision = AgentRevision.get(AgentRevision.agent == agent.id)
    assert (agent.config_revision, revision.revision, revision.system_prompt) == (1, 1, 'Be brief.')


async def test_a_prompt_edit_of_a_running_agent_is_a_new_revision(user: User, running_agent):
    agent, owner_headers, _ = running_agent
    answer = await user.http_client.patch(f'/api/agents/{agent.id}', json={'system_prompt': 'You are Anna.'},
                                          headers=owner_headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()['config_revision'] == 2
    assert [row.system_prompt for row in AgentRevision.select().where(AgentRevision.agent == agent.id)
            .order_by(AgentRevision.revision)] == ['You are Otto.', 'You are Anna.']


async def test_saving_the_same_values_again_makes_no_revision(user: User, running_agent):
    agent, owner_headers, _ = running_agent
    answer = await user.http_client.patch(f'/api/agents/{agent.id}', json={'system_prompt': 'You are Otto.'},
                                          headers=owner_headers)
    assert answer.json()['config_revision'] == 1


@pytest.mark.parametrize(('field', 'value'), [('region', 'ash'), ('size', 'large')])
async def test_region_or_size_of_a_running_agent_answers_409_redeploy_required(user: User, running_agent, field,
                                                                                value):
    agent, owner_headers, _ = running_agent
    answer = await user.http_client.patch(f'/api/agents/{agent.id}', json={field: value}, headers=owner_headers)
    assert answer.status_code == 409
    assert (answer.json()['error']['code'], answer.json()['error']['field']) == ('REDEPLOY_REQUIRED', field)
    assert getattr(Agent.get_by_id(agent.id), field) != value


# --- the config answer and its long poll ---------------------------------------------------------------------------

async def test_the_config_holds_the_prompt_model_provider_and_key_hashes(user: User, running_agent, monkeypatch):
    monkeypatch.setenv('OPENAI_BASE_URL', 'http://127.0.0.1:9/v1')
    configure(Settings())
    agent, _, token = running_agent
    key = api_keys.create_key(agent.id, 'ci')
    answer = await fetch_config(user, token)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body['revision'] == 2  # the new key made revision 2
    assert body['agent'] == {'id': agent.id, 'name': agent.name, 'model': 'gpt-4.1', 'system_prompt': 'You are Otto.'}
    assert body['provider'] == {'kind': 'openai', 'base_url': 'http://127.0.0.1:9/v1', 'api_key': 'no-key'}
    hashes = {entry['sha256'] for entry in body['api_keys']}
    assert api_keys.sha256_of(key.key) in hashes and api_keys.sha256_of(api_keys.chat_key(agent.id)) in hashes
    assert key.key not in answer.text


async def test_a_long_poll_with_nothing_newer_answers_204(user: User, running_agent, monkeypatch):
    monkeypatch.setattr(config, 'LONG_POLL_SECONDS', 0.3)
    _, _, token = running_agent
    answer = await fetch_config(user, token, after=1)
    assert answer.status_code == 204


async def test_a_saved_change_wakes_a_waiting_long_poll_at_once(user: User, running_agent, monkeypatch):
    monkeypatch.setattr(config, 'RECHECK_SECONDS', 30)  # only the wake-up can answer in time
    agent, owner_headers, token = running_agent
    waiting = asyncio.create_task(fetch_config(user, token, after=1))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    started = time.monotonic()
    await user.http_client.patch(f'/api/agents/{agent.id}', json={'system_prompt': 'New.'}, headers=owner_headers)
    answer = await asyncio.wait_for(waiting, 5)
    assert time.monotonic() - started < 2
    assert (answer.status_code, answer.json()['revision'], answer.json()['agent']['system_prompt']) == (200, 2, 'New.')


async def test_a_revoked_api_key_is_a_new_revision_without_that_hash(user: User, running_agent):
    agent, _, token = running_agent
    key = api_keys.create_key(agent.id, 'ci')
    api_keys.revoke_key(agent.id, key.id)
    body = (await fetch_config(user, token, after=1)).json()
    assert body['revision'] == 3
    assert api_keys.sha256_of(key.key) not in {entry['sha256'] for entry in body['api_keys']}


def test_a_provider_key_goes_out_only_over_https_or_to_this_machine():
    config.check_channel('https', '203.0.113.9')
    config.check_channel('http', '127.0.0.1')
    config.check_channel('http', '::1')
    with pytest.raises(RuntimeControlError) as refused:
        config.check_channel('http', '203.0.113.9')
    assert refused.value.code == 'PLAIN_HTTP_REFUSED' and 'https' in refused.value.message


# --- runtime tokens -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('authorization', [None, 'Bearer rt_wrong', 'Basic cnQ6eA==', 'Bearer ' + 'rt_' + 'x' * 200])
async def test_a_missing_or_wrong_runtime_token_answers_401(user: User, running_agent, authorization):
    headers = {'Authorization': authorization} if authorization else {}
    answer = await user.http_client.get('/api/runtime/config', headers=headers)
    assert answer.status_code == 401


async def test_the_old_token_dies_when_a_new_provision_job_succeeds(user: User, dispatched_job):
    old = tokens.mint(dispatched_job.agent_id, None)
    new = tokens.mint(dispatched_job.agent_id, dispatched_job.id)
    assert (await fetch_config(user, old)).status_code == 200  # the old server serves until the new one is up
    assert (await post_report(user, dispatched_job.id, 'succeeded')).status_code == 200
    assert (await fetch_config(user, old)).status_code == 401
    assert (await fetch_config(user, new)).status_code == 200


def test_a_runtime_token_is_stored_only_as_its_hash():
    agent = make_agent(make_user())
    token = tokens.mint(agent.id, None)
    assert token.startswith('rt_')
    assert RuntimeToken.get(RuntimeToken.agent == agent.id).sha256 == tokens.sha256_of(token)
    assert not RuntimeToken.select().where(RuntimeToken.sha256 == token).exists()


# --- bootstrap ----------------------------------------------------------------------------------------------------

async def bootstrap(user: User, job_id: object, secret: str = CALLBACK_SECRET) -> object:
    body = json.dumps({'job_id': job_id}).encode()
    return await user.http_client.post('/api/provisioning/bootstrap', content=body,
                                       headers={'X-AgentHost-Signature': callbacks.sign(body, secret)})


async def test_bootstrap_of_an_open_provision_job_gives_a_working_runtime_token(user: User, dispatched_job):
    answer = await bootstrap(user, dispatched_job.id)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body['agent_id'], body['control_url']) == (dispatched_job.agent_id, 'http://localhost:8080')
    assert (await fetch_config(user, body['runtime_token'])).status_code == 200


async def test_bootstrap_signed_with_another_secret_answers_401(user: User, dispatched_job):
    assert (await bootstrap(user, dispatched_job.id, secret='not-the-secret')).status_code == 401
    assert not RuntimeToken.select().exists()


async def test_bootstrap_of_a_finished_job_answers_409(user: User, dispatched_job):
    await post_report(user, dispatched_job.id, 'failed', message='no capacity')
    answer = await bootstrap(user, dispatched_job.id)
    assert (answer.status_code, answer.json()['error']['code']) == (409, 'NO_OPEN_JOB')


async def test_bootstrap_of_an_unknown_job_answers_404(user: User, github):
    assert (await bootstrap(user, 4242)).status_code == 404


# --- heartbeats ---------------------------------------------------------------------------------------------------

async def test_a_heartbeat_records_health_applied_revision_and_answers_the_newest(user: User, running_agent):
    agent, _, token = running_agent
    answer = await beat(user, token, 1, 0, status='degraded', message='provider slow')
    assert (answer.status_code, answer.json()) == (200, {'revision': 1})
    agent = Agent.get_by_id(agent.id)
    assert (agent.applied_revision, agent.health, agent.health_message) == (1, 'degraded', 'provider slow')
    assert agent.last_heartbeat_at is not None


async def test_repeated_and_lost_heartbeats_never_miscount(user: User, running_agent):
    agent, _, token = running_agent
    await beat(user, token, 1, 2)
    await beat(user, token, 1, 2)  # the same heartbeat again
    await beat(user, token, 3, 7)  # seq 2 was lost: its requests arrive with 3
    await beat(user, token, 2, 5)  # the lost one, late
    assert used_requests(agent.id) == 7


async def test_a_new_boot_counts_from_zero(user: User, running_agent):
    agent, _, token = running_agent
    await beat(user, token, 1, 4)
    await beat(user, token, 1, 1, boot_id='boot-2')
    assert used_requests(agent.id) == 5


async def test_usage_is_billed_to_the_model_of_the_applied_revision(user: User, running_agent):
    agent, owner_headers, token = running_agent
    await user.http_client.patch(f'/api/agents/{agent.id}', json={'model': 'claude-sonnet-4-5'}, headers=owner_headers)
    await beat(user, token, 1, 3, revision=1)
    assert [(row.model, row.requests) for row in AgentUsage.select()] == [('gpt-4.1', 3)]


@pytest.mark.parametrize(('change', 'field'), [({'seq': 0}, 'seq'), ({'boot_id': ''}, 'boot_id'),
                                                ({'status': 'fine'}, 'status'),
                                                ({'usage': {'requests': -1}}, 'usage.requests')])
async def test_a_malformed_heartbeat_answers_422_naming_the_field(user: User, running_agent, change, field):
    _, _, token = running_agent
    body = {'boot_id': 'b', 'seq': 1, 'revision': 1, 'status': 'ok', 'usage': {}, **change}
    answer = await user.http_client.post('/api/runtime/heartbeat', json=body, headers=bearer(token))
    assert (answer.status_code, answer.json()['error']['field']) == (422, field)


def test_a_stopped_agents_tokens_die_with_its_runtime():
    agent = make_agent(make_user(), status=AgentStatus.RUNNING)
    token = tokens.mint(agent.id, None)
    tokens.revoke_all(agent.id)
    with pytest.raises(RuntimeControlError):
        tokens.agent_id_for(f'Bearer {token}')


async def test_a_heartbeat_records_when_each_key_was_last_used(user: User, running_agent):
    agent, _, token = running_agent
    key = api_keys.create_key(agent.id, 'ci')
    body = {'boot_id': 'b', 'seq': 1, 'revision': 2, 'status': 'ok', 'usage': {},
            'api_keys_used': {str(key.id): 1_780_000_000, '999999': 1_780_000_000}}
    assert (await user.http_client.post('/api/runtime/heartbeat', json=body, headers=bearer(token))).status_code == 200
    [listed] = api_keys.listed_keys(agent.id)
    assert listed.last_used_at is not None and listed.last_used_at.year == 2026


async def test_key_ids_no_row_can_have_are_skipped_and_the_heartbeat_still_answered(user: User, running_agent):
    """'²' passes `str.isdigit()` yet `int()` refuses it; a 20-digit id overflows PostgreSQL's bigint."""
    agent, _, token = running_agent
    named, unnamed = api_keys.create_key(agent.id, 'named'), api_keys.create_key(agent.id, 'unnamed')
    body = {'boot_id': 'b', 'seq': 1, 'revision': 3, 'status': 'ok', 'usage': {},
            'api_keys_used': {'²': 1_780_000_000, '99999999999999999999': 1_780_000_000, str(named.id): 1_780_000_000}}
    assert (await user.http_client.post('/api/runtime/heartbeat', json=body, headers=bearer(token))).status_code == 200
    last_used = {key.id: key.last_used_at for key in api_keys.listed_keys(agent.id)}
    assert last_used[named.id] is not None and last_used[unnamed.id] is None


async def test_heartbeats_arriving_together_are_all_applied_and_all_answered(user: User):
    account = make_user('many@example.com')
    agents = [make_agent(account, status='running', name=f'bot {number}') for number in range(20)]
    minted = [tokens.mint(agent.id, None) for agent in agents]
    answers = await asyncio.gather(*[beat(user, token, 1, 1) for token in minted])
    assert [answer.json() for answer in answers] == [{'revision': 1}] * 20
    assert all(Agent.get_by_id(agent.id).health == 'healthy' for agent in agents)
    assert [used_requests(agent.id) for agent in agents] == [1] * 20


def heartbeat_of(seq: int, requests: int, *, boot_id: str = 'boot-1', status: str = 'ok') -> heartbeats.Heartbeat:
    return heartbeats.parse_heartbeat({'boot_id': boot_id, 'seq': seq, 'revision': 1, 'status': status,
                                       'usage': {'requests': requests}})


def test_a_wrong_token_in_a_batch_is_refused_alone(running_agent):
    agent, _, token = running_agent
    answers = heartbeats.apply_presented([('Bearer rt_unknown', heartbeat_of(1, 1)), ('Basic x', heartbeat_of(1, 1)),
                                          (f'Bearer {token}', heartbeat_of(1, 3))])
    assert [getattr(answer, 'code', answer) for answer in answers] == \
        ['RUNTIME_TOKEN_INVALID', 'RUNTIME_TOKEN_INVALID', 1]
    assert used_requests(agent.id) == 3


def test_one_boots_heartbeats_in_one_batch_count_in_order_once_each(running_agent):
    agent, _, token = running_agent
    presented = f'Bearer {token}'
    heartbeats.apply_presented([(presented, heartbeat_of(1, 2)), (presented, heartbeat_of(1, 2)),
                                (presented, heartbeat_of(3, 7)), (presented, heartbeat_of(2, 5)),
                                (presented, heartbeat_of(1, 4, boot_id='boot-2'))])
    assert used_requests(agent.id) == 11


def test_the_last_heartbeat_of_a_batch_sets_the_agents_health(running_agent):
    agent, _, token = running_agent
    presented = f'Bearer {token}'
    heartbeats.apply_presented([(presented, heartbeat_of(1, 0, status='degraded')),
                                (presented, heartbeat_of(2, 0, status='ok'))])
    assert Agent.get_by_id(agent.id).health == 'healthy'
    heartbeats.apply_presented([(presented, heartbeat_of(3, 0, status='degraded'))])
    assert Agent.get_by_id(agent.id).health == 'degraded'


def test_only_the_first_heartbeat_of_a_boot_marks_the_runtime_started(running_agent):
    agent, _, token = running_agent
    heartbeats.apply_presented([(f'Bearer {token}', heartbeat_of(1, 0))])
    started = Agent.get_by_id(agent.id).runtime_started_at
    heartbeats.apply_presented([(f'Bearer {token}', heartbeat_of(2, 0))])
    assert started is not None and Agent.get_by_id(agent.id).runtime_started_at == started
    heartbeats.apply_presented([(f'Bearer {token}', heartbeat_of(1, 0, boot_id='boot-2'))])
    assert Agent.get_by_id(agent.id).runtime_started_at > started


def test_a_heartbeat_of_a_deleted_agents_token_is_refused(running_agent):
    agent, _, token = running_agent
    Agent.update(status=AgentStatus.DELETED).where(Agent.id == agent.id).execute()
    [answer] = heartbeats.apply_presented([(f'Bearer {token}', heartbeat_of(1, 1))])
    assert isinstance(answer, RuntimeControlError) and used_requests(agent.id) == 0
