import pytest
from nicegui.testing import User

from models import Agent
from services.platform.settings import Settings, configure
from tests.factories import make_agent, make_token, make_user


@pytest.fixture
def owner():
    return make_user('owner@example.com')


@pytest.fixture
def headers(owner):
    return make_token(owner)


async def test_create_returns_a_draft_with_configured_defaults(user: User, headers):
    response = await user.http_client.post('/api/agents', json={'name': 'Support bot'}, headers=headers)
    assert response.status_code == 201
    agent = response.json()
    assert agent['status'] == 'draft'
    assert (agent['model'], agent['region'], agent['size']) == ('claude-sonnet-4-5', 'fsn1', 'small')
    assert agent['job'] is None and agent['ip_address'] is None
    assert agent['created_at'].endswith('Z')
    assert set(agent) == {'id', 'name', 'description', 'model', 'system_prompt', 'region', 'size', 'status',
                          'ip_address', 'job', 'created_at', 'updated_at', 'endpoint_url', 'config_revision',
                          'applied_revision', 'health', 'health_message', 'last_heartbeat_at', 'usage'}
    assert (agent['endpoint_url'], agent['config_revision'], agent['applied_revision'], agent['health']) == (
        None, 1, None, 'unknown')
    assert agent['usage']['requests'] == 0


async def test_create_keeps_every_given_field(user: User, headers):
    body = {'name': 'Sales-bot_2.0', 'description': 'answers leads', 'model': 'gpt-4.1',
            'system_prompt': 'Be brief.', 'region': 'ash', 'size': 'large'}
    response = await user.http_client.post('/api/agents', json=body, headers=headers)
    assert response.status_code == 201
    assert {key: response.json()[key] for key in body} == body


@pytest.mark.parametrize(('body', 'field'), [
    ({}, 'name'),
    ({'name': ''}, 'name'),
    ({'name': 'x' * 65}, 'name'),
    ({'name': 'bad/name'}, 'name'),
    ({'name': 42}, 'name'),
    ({'name': 'ok', 'region': 'mars'}, 'region'),
    ({'name': 'ok', 'size': 'huge'}, 'size'),
    ({'name': 'ok', 'model': 'gpt-0'}, 'model'),
    ({'name': 'ok', 'system_prompt': 'x' * 20001}, 'system_prompt'),
    ({'name': 'ok', 'colour': 'blue'}, 'colour'),
])
async def test_invalid_input_answers_422_naming_the_field(user: User, headers, body, field):
    response = await user.http_client.post('/api/agents', json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()['error']['code'] == 'INVALID_INPUT'
    assert response.json()['error']['field'] == field
    assert not Agent.select().exists()


@pytest.mark.parametrize('content', [b'{"name": ', b'["a list"]', b'\xff\xfe'])
async def test_malformed_json_answers_400(user: User, headers, content):
    response = await user.http_client.post('/api/agents', content=content, headers=headers)
    assert response.status_code == 400
    assert response.json()['error']['code'] == 'INVALID_JSON'


async def test_body_over_one_mebibyte_answers_413(user: User, headers):
    body = b'{"name": "big", "description": "' + b'x' * (1024 * 1024) + b'"}'
    response = await user.http_client.post('/api/agents', content=body, headers=headers)
    assert response.status_code == 413
    assert response.json()['error']['code'] == 'PAYLOAD_TOO_LARGE'
    assert not Agent.select().exists()


async def test_streamed_body_over_one_mebibyte_answers_413(user: User, headers):
    async def chunks():
        for _ in range(20):
            yield b'x' * 100_000

    response = await user.http_client.post('/api/agents', content=chunks(), headers=headers)
    assert response.status_code == 413


async def test_list_shows_only_the_callers_agents_newest_first(user: User, owner, headers):
    make_agent(owner, name='first')
    make_agent(owner, name='second')
    make_agent(make_user(), name='someone else')
    response = await user.http_client.get('/api/agents', headers=headers)
    assert [agent['name'] for agent in response.json()['agents']] == ['second', 'first']


async def test_get_returns_the_agent(user: User, owner, headers):
    agent = make_agent(owner)
    response = await user.http_client.get(f'/api/agents/{agent.id}', headers=headers)
    assert response.status_code == 200
    assert response.json()['name'] == 'Support bot'


async def test_another_users_agent_answers_404(user: User, headers):
    agent = make_agent(make_user())
    for method in ('GET', 'PATCH', 'DELETE'):
        response = await user.http_client.request(method, f'/api/agents/{agent.id}', json={}, headers=headers)
        assert response.status_code == 404, method
        assert response.json()['error']['code'] == 'NOT_FOUND'
    response = await user.http_client.post(f'/api/agents/{agent.id}/deploy', headers=headers)
    assert response.status_code == 404


async def test_unknown_id_answers_404(user: User, headers):
    response = await user.http_client.get('/api/agents/999999', headers=headers)
    assert response.status_code == 404


async def test_patch_changes_a_draft(user: User, owner, headers):
    agent = make_agent(owner)
    response = await user.http_client.patch(f'/api/agents/{agent.id}', json={'region': 'hel1', 'name': 'Renamed'},
                                            headers=headers)
    assert response.status_code == 200
    assert (response.json()['region'], response.json()['name']) == ('hel1', 'Renamed')
    assert Agent.get_by_id(agent.id).region == 'hel1'


async def test_patch_changes_a_stopped_agent(user: User, owner, headers):
    agent = make_agent(owner, status='stopped')
    response = await user.http_client.patch(f'/api/agents/{agent.id}', json={'size': 'medium'}, headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize('status', ['provisioning', 'stopping', 'failed'])
async def test_patch_of_an_agent_that_is_not_draft_stopped_or_running_answers_409(user: User, owner, headers, status):
    agent = make_agent(owner, status=status)
    response = await user.http_client.patch(f'/api/agents/{agent.id}', json={'size': 'medium'}, headers=headers)
    assert response.status_code == 409
    assert response.json()['error']['code'] == 'AGENT_NOT_EDITABLE'
    assert Agent.get_by_id(agent.id).size == 'small'


async def test_patch_with_a_bad_value_changes_nothing(user: User, owner, headers):
    agent = make_agent(owner)
    response = await user.http_client.patch(f'/api/agents/{agent.id}', json={'name': 'Fine', 'size': 'huge'},
                                            headers=headers)
    assert response.status_code == 422
    assert response.json()['error']['field'] == 'size'
    assert Agent.get_by_id(agent.id).name == 'Support bot'


async def test_delete_marks_a_draft_deleted_and_hides_it(user: User, owner, headers):
    agent = make_agent(owner)
    response = await user.http_client.delete(f'/api/agents/{agent.id}', headers=headers)
    assert response.status_code == 202
    assert response.json()['status'] == 'deleted'
    assert Agent.get_by_id(agent.id).status == 'deleted'  # kept for the audit trail
    assert (await user.http_client.get(f'/api/agents/{agent.id}', headers=headers)).status_code == 404
    assert (await user.http_client.get('/api/agents', headers=headers)).json() == {'agents': []}


async def test_delete_of_a_running_agent_needs_provisioning_to_remove_its_server(user: User, owner, headers,
                                                                                 monkeypatch):
    monkeypatch.setenv('PROVISIONER', 'github')  # without it, agents would run on this machine
    configure(Settings())
    agent = make_agent(owner, status='running')  # with provisioning set up it is deprovisioned: test_provisioning_stop
    response = await user.http_client.delete(f'/api/agents/{agent.id}', headers=headers)
    assert response.status_code == 503
    assert response.json()['error']['code'] == 'PROVISIONING_NOT_CONFIGURED'
    assert Agent.get_by_id(agent.id).status == 'running'


async def test_deploy_without_billing_configured_answers_503(user: User, owner, headers):
    agent = make_agent(owner)
    response = await user.http_client.post(f'/api/agents/{agent.id}/deploy', headers=headers)
    assert response.status_code == 503
    assert response.json()['error']['code'] == 'BILLING_NOT_CONFIGURED'
    assert Agent.get_by_id(agent.id).status == 'draft'


async def test_unknown_api_path_answers_404_in_the_error_shape(user: User, headers):
    response = await user.http_client.get('/api/nothing-here', headers=headers)
    assert response.status_code == 404
    assert response.json()['error']['code'] == 'NOT_FOUND'


async def test_healthz_answers_ok_without_login(user: User):
    response = await user.http_client.get('/healthz')
    assert response.status_code == 200
    assert response.json() == {'status': 'ok'}


async def test_an_id_too_large_for_the_database_answers_422_naming_it(user: User, headers):
    response = await user.http_client.get('/api/agents/99999999999999999999999', headers=headers)
    assert response.status_code == 422
    assert response.json()['error']['field'] == 'agent_id'
