"""The agent page's runtime sections: revision and usage, editing a running agent live, API keys, the chat panel."""
from datetime import timedelta

from nicegui.testing import User

from models import Agent, AgentApiKey, utcnow
from services.provisioning import healing
from services.runtime import heartbeats
from tests.factories import make_agent
from tests.pages_support import log_in


async def test_the_page_says_which_revision_the_runtime_applied(user: User):
    account = await log_in(user)
    agent = make_agent(account, status='running')
    Agent.update(applied_revision=1, health='healthy').where(Agent.id == agent.id).execute()
    await user.open(f'/agents/{agent.id}')
    await user.should_see('Revision 1 applied')
    await user.should_see(marker='usage')


async def test_editing_the_prompt_of_a_running_agent_makes_a_revision_being_applied(user: User):
    account = await log_in(user)
    agent = make_agent(account, status='running', system_prompt='You are Otto.')
    Agent.update(applied_revision=1).where(Agent.id == agent.id).execute()
    await user.open(f'/agents/{agent.id}')
    user.find(marker='edit-config').click()
    user.find(marker='edit-system-prompt').type(' Be brief.')
    user.find(marker='save-config').click()
    await user.should_see('Applying revision 2', retries=50)
    await user.should_see('You are Otto. Be brief.')
    assert Agent.get_by_id(agent.id).config_revision == 2


async def test_a_stopped_agent_is_edited_without_a_revision_being_applied_anywhere(user: User):
    account = await log_in(user)
    agent = make_agent(account, status='stopped')
    await user.open(f'/agents/{agent.id}')
    user.find(marker='edit-config').click()
    user.find(marker='edit-name').clear().type('Renamed bot')
    user.find(marker='save-config').click()
    await user.should_see(marker='config-name', content='Renamed bot', retries=50)
    assert Agent.get_by_id(agent.id).name == 'Renamed bot'


async def test_a_key_is_created_shown_once_and_revoked_from_the_page(user: User):
    account = await log_in(user)
    agent = make_agent(account, status='running')
    await user.open(f'/agents/{agent.id}')
    await user.should_see('No keys yet.')
    user.find(marker='key-name').type('my app')
    user.find(marker='create-key').click()
    await user.should_see(marker='new-key', retries=50)
    key = AgentApiKey.get(AgentApiKey.name == 'my app')
    shown = next(iter(user.find(marker='new-key').elements)).text
    assert shown.startswith('ah_') and key.sha256 != shown
    user.find(marker='close-key').click()
    user.find(marker=f'revoke-key-{key.id}').click()
    await user.should_see('No keys yet.', retries=50)
    assert AgentApiKey.get_by_id(key.id).revoked_at is not None


async def test_the_chat_waits_for_the_agent_to_run(user: User):
    account = await log_in(user)
    agent = make_agent(account)
    await user.open(f'/agents/{agent.id}')
    await user.should_see('Deploy the agent to chat with it.')
    assert not next(iter(user.find(marker='chat-send').elements)).enabled


async def test_the_agents_list_shows_a_running_agents_health_as_it_changes(user: User):
    account = await log_in(user)
    agent = make_agent(account, status='running')
    await user.open('/')
    await user.should_see(marker=f'agent-{agent.id}-health', content='unknown')
    heartbeats.record_heartbeat(agent.id, {'boot_id': 'b', 'seq': 1, 'revision': 1, 'status': 'degraded',
                                           'message': 'provider slow', 'usage': {}})
    await user.should_see(marker=f'agent-{agent.id}-health', content='degraded', retries=50)


async def test_the_agent_page_shows_an_unreachable_agent_live_with_the_reason(user: User):
    account = await log_in(user)
    agent = make_agent(account, status='running')
    Agent.update(updated_at=utcnow() - timedelta(hours=1)).where(Agent.id == agent.id).execute()
    await user.open(f'/agents/{agent.id}')
    await user.should_see(marker='health', content='unknown')
    healing.mark_unreachable_agents(utcnow() - timedelta(days=1))
    await user.should_see(marker='health', content='unreachable', retries=50)
    await user.should_see('No heartbeat since it started running')


async def test_the_agent_page_shows_how_long_the_runtime_has_been_up(user: User):
    account = await log_in(user)
    agent = make_agent(account, status='running')
    Agent.update(runtime_started_at=utcnow() - timedelta(minutes=42), last_heartbeat_at=utcnow(),
                 health='healthy').where(Agent.id == agent.id).execute()
    await user.open(f'/agents/{agent.id}')
    await user.should_see(marker='uptime', content='up 42 min')
