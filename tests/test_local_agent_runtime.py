"""A local agent end to end, over real processes: AgentHost (`python main.py`, PROVISIONER=local), the agent's
runtime as its child, and a model provider double; the customer talks to the agent with the official `openai`
client, as they would."""
import os
import re
import signal
import time
from collections.abc import Callable
from datetime import datetime

import openai
import pytest

from models import Agent, ProvisioningJob
from models import User as Account
from services.runtime import api_keys
from tests.factories import make_agent
from tests.model_provider_double import ModelProviderDouble, provider  # noqa: F401
from tests.test_local_provisioner import api, deployed, events_of, local_app, owner  # noqa: F401
from tests.waiting import wait_until


@pytest.fixture(autouse=True)
def agents_answer_with_the_double(isolated_environment, monkeypatch, provider) -> None:  # noqa: ARG001
    """Before the app starts: its agents' provider is the double, they heartbeat twice a second, and one silent
    for three beats is healed a second later."""
    monkeypatch.setenv('OPENAI_BASE_URL', provider.openai_url)
    monkeypatch.setenv('AGENT_HEARTBEAT_SECONDS', '0.5')
    monkeypatch.setenv('AGENT_HEAL_MINUTES', '0.02')


def applied(agent_id: int) -> Callable[[], bool]:
    def check() -> bool:
        agent = Agent.get_by_id(agent_id)
        return agent.applied_revision == agent.config_revision
    return check


def ask(endpoint: str, key: str, text: str) -> str:
    with openai.OpenAI(base_url=f'{endpoint}/v1', api_key=key, max_retries=0, timeout=30) as client:
        answer = client.chat.completions.create(model='anything', messages=[{'role': 'user', 'content': text}])
    return answer.choices[0].message.content


def test_a_local_agent_answers_with_its_prompt_takes_an_edit_live_and_refuses_a_revoked_key(
        local_app: str, owner: Account, provider: ModelProviderDouble):
    agent = make_agent(owner, model='gpt-4.1', system_prompt='You are Otto.')
    endpoint = deployed(local_app, owner, agent)
    key = api_keys.create_key(agent.id, 'tests')  # written by this process: AgentHost sees it on its next read
    wait_until(applied(agent.id), 'the runtime to apply the config with the new key')

    assert ask(endpoint, key.key, 'Who are you?') == 'model=gpt-4.1 system=You are Otto. user=Who are you?'
    assert provider.requests[-1].headers['authorization'] == 'Bearer no-key'  # the provider's, not the customer's

    with api(local_app, owner) as client:
        started = time.monotonic()
        assert client.patch(f'/api/agents/{agent.id}', json={'system_prompt': 'You are Anna.'}).status_code == 200
    wait_until(applied(agent.id), 'the runtime to apply the new prompt', timeout=2)
    assert time.monotonic() - started < 2
    assert 'system=You are Anna.' in ask(endpoint, key.key, 'And now?')

    api_keys.revoke_key(agent.id, key.id)
    wait_until(applied(agent.id), 'the runtime to apply the revocation')
    with pytest.raises(openai.AuthenticationError):
        ask(endpoint, key.key, 'Still there?')


def test_a_local_agent_heartbeats_its_health_and_usage(local_app: str, owner: Account):
    agent = make_agent(owner, model='gpt-4.1')
    endpoint = deployed(local_app, owner, agent)
    key = api_keys.create_key(agent.id, 'tests')
    wait_until(applied(agent.id), 'the runtime to apply the config with the new key')
    ask(endpoint, key.key, 'Count me.')
    with api(local_app, owner) as client:
        seen = wait_until(lambda: (body := client.get(f'/api/agents/{agent.id}').json())['usage']['requests'] == 1
                          and body, 'the request counted from a heartbeat')
    assert seen['health'] == 'healthy' and seen['last_heartbeat_at'] and seen['endpoint_url'] == endpoint


def test_a_keys_last_use_reaches_its_owner_through_the_heartbeats(local_app: str, owner: Account):
    agent = make_agent(owner, model='gpt-4.1')
    endpoint = deployed(local_app, owner, agent)
    key = api_keys.create_key(agent.id, 'tests')
    wait_until(applied(agent.id), 'the runtime to apply the config with the new key')
    before = time.time()
    ask(endpoint, key.key, 'Note my key.')
    with api(local_app, owner) as client:
        [listed] = wait_until(lambda: [listed for listed in client.get(f'/api/agents/{agent.id}/keys').json()['keys']
                                       if listed['last_used_at']], "the key's last use from a heartbeat")
    assert listed['id'] == key.id
    assert datetime.fromisoformat(listed['last_used_at']).timestamp() >= before - 1


def test_chat_from_agenthost_answers_through_the_agents_own_endpoint(local_app: str, owner: Account,
                                                                     provider: ModelProviderDouble):
    agent = make_agent(owner, model='gpt-4.1', system_prompt='You are Otto.')
    deployed(local_app, owner, agent)
    with api(local_app, owner) as client:
        answer = client.post(f'/api/agents/{agent.id}/chat', json={'messages': [{'role': 'user', 'content': 'Hi'}]})
    assert answer.status_code == 200, answer.text
    assert answer.json()['message'] == {'role': 'assistant', 'content': 'model=gpt-4.1 system=You are Otto. user=Hi'}
    assert answer.json()['usage']['total_tokens'] > 0
    assert provider.requests[-1].body['messages'][0] == {'role': 'system', 'content': 'You are Otto.'}


def test_chat_with_an_agent_that_does_not_run_answers_409(local_app: str, owner: Account):
    agent = make_agent(owner)
    with api(local_app, owner) as client:
        answer = client.post(f'/api/agents/{agent.id}/chat', json={'messages': [{'role': 'user', 'content': 'Hi'}]})
    assert (answer.status_code, answer.json()['error']['code']) == (409, 'AGENT_NOT_RUNNING')


def test_chat_with_an_agent_whose_runtime_is_gone_answers_502(local_app: str, owner: Account):
    agent = make_agent(owner, model='gpt-4.1')
    endpoint = deployed(local_app, owner, agent)
    Agent.update(endpoint_url=endpoint.rsplit(':', 1)[0] + ':9').where(Agent.id == agent.id).execute()
    with api(local_app, owner) as client:
        answer = client.post(f'/api/agents/{agent.id}/chat', json={'messages': [{'role': 'user', 'content': 'Hi'}]})
    assert (answer.status_code, answer.json()['error']['code']) == (502, 'AGENT_UNREACHABLE')


def test_a_killed_local_agent_becomes_unreachable_is_healed_and_answers_again(local_app: str, owner: Account):
    agent = make_agent(owner, model='gpt-4.1')
    deployed(local_app, owner, agent)
    wait_until(lambda: Agent.get_by_id(agent.id).health == 'healthy', 'the first heartbeat')
    [started] = [event for event in events_of(agent.id) if event.step == 'running']
    os.kill(int(re.search(r'process ([0-9]+)', started.message)[1]), signal.SIGKILL)

    wait_until(lambda: Agent.get_by_id(agent.id).health == 'unreachable', 'the silence to be noticed')
    heal = wait_until(lambda: ProvisioningJob.get_or_none(ProvisioningJob.heal & (ProvisioningJob.agent == agent.id)),
                      'the heal')
    wait_until(lambda: ProvisioningJob.get_by_id(heal.id).status == 'succeeded', 'the heal to succeed')
    wait_until(lambda: Agent.get_by_id(agent.id).health == 'healthy', 'the healed runtime to heartbeat')
    assert Agent.get_by_id(agent.id).status == 'running'
    steps = [event.step for event in events_of(agent.id)]
    assert steps.index('runtime_exited') < steps.index('unreachable') < steps.index('healing') \
        < steps.index('recovered')
    with api(local_app, owner) as client:
        assert client.get(f'{Agent.get_by_id(agent.id).endpoint_url}/healthz').status_code == 200
