"""Agent API keys through the JSON API: shown once, stored hashed, listed with their last use, revoked."""
import pytest
from nicegui.testing import User

from models import AgentApiKey
from services.runtime import api_keys
from tests.factories import make_agent, make_user
from tests.provisioning_support import headers, owner  # noqa: F401


async def create(user: User, agent_id: int, headers: dict, name: object = 'billing app'):
    return await user.http_client.post(f'/api/agents/{agent_id}/keys', json={'name': name}, headers=headers)


async def test_a_new_key_is_shown_once_and_stored_only_as_its_hash(user: User, owner, headers):
    agent = make_agent(owner)
    answer = await create(user, agent.id, headers)
    assert answer.status_code == 201, answer.text
    key = answer.json()
    assert key['key'].startswith('ah_') and key['name'] == 'billing app' and key['created_at'].endswith('Z')
    stored = AgentApiKey.get_by_id(key['id'])
    assert stored.sha256 == api_keys.sha256_of(key['key'])
    listed = (await user.http_client.get(f'/api/agents/{agent.id}/keys', headers=headers)).json()
    assert listed == {'keys': [{'id': key['id'], 'name': 'billing app', 'created_at': key['created_at'],
                                'last_used_at': None}]}


async def test_agenthosts_own_chat_key_is_never_listed(user: User, owner, headers):
    agent = make_agent(owner)
    api_keys.ensure_chat_key(agent.id)
    assert (await user.http_client.get(f'/api/agents/{agent.id}/keys', headers=headers)).json() == {'keys': []}


async def test_a_revoked_key_leaves_the_list_and_the_runtimes_config(user: User, owner, headers):
    agent = make_agent(owner)
    key = (await create(user, agent.id, headers)).json()
    answer = await user.http_client.delete(f'/api/agents/{agent.id}/keys/{key["id"]}', headers=headers)
    assert answer.status_code == 204
    assert (await user.http_client.get(f'/api/agents/{agent.id}/keys', headers=headers)).json() == {'keys': []}
    assert api_keys.sha256_of(key['key']) not in {entry['sha256'] for entry in api_keys.active_key_hashes(agent.id)}
    again = await user.http_client.delete(f'/api/agents/{agent.id}/keys/{key["id"]}', headers=headers)
    assert again.status_code == 404


async def test_another_owners_agent_has_no_keys_to_show_or_make(user: User, headers):
    stranger = make_agent(make_user('stranger@example.com'))
    assert (await user.http_client.get(f'/api/agents/{stranger.id}/keys', headers=headers)).status_code == 404
    assert (await create(user, stranger.id, headers)).status_code == 404
    assert not AgentApiKey.select().exists()


@pytest.mark.parametrize('name', ['', '   ', 42, 'x' * 65, 'tab\tname'])
async def test_a_key_needs_a_short_name_of_plain_text(user: User, owner, headers, name):
    agent = make_agent(owner)
    answer = await create(user, agent.id, headers, name)
    assert (answer.status_code, answer.json()['error']['field']) == (422, 'name')
