"""Agent logs without SSH: the runtime ships its lines, AgentHost keeps the newest (redacted again), the owner reads
them through the API and on the agent page, following live."""
import pytest
from nicegui.testing import User

from models import AgentLogLine
from services.runtime import log_lines, tokens
from tests.factories import make_agent, make_token, make_user
from tests.pages_support import log_in


def line(seq: int, message: str = 'hello', level: str = 'info') -> dict:
    return {'seq': seq, 'at': '2026-12-04T05:00:00.000+00:00', 'level': level, 'message': message}


@pytest.fixture
def agent_and_token():
    agent = make_agent(make_user('owner@example.com'), status='running')
    return agent, tokens.mint(agent.id, None)


async def ship(user: User, token: str, lines: list[dict], boot_id: str = 'boot-1'):
    return await user.http_client.post('/api/runtime/logs', json={'boot_id': boot_id, 'lines': lines},
                                       headers={'Authorization': f'Bearer {token}'})


async def test_shipped_lines_are_kept_once_even_when_sent_again(user: User, agent_and_token):
    agent, token = agent_and_token
    assert (await ship(user, token, [line(1), line(2)])).json() == {'added': 2}
    assert (await ship(user, token, [line(2), line(3)])).json() == {'added': 1}
    assert (await ship(user, token, [line(1)], boot_id='boot-2')).json() == {'added': 1}
    assert AgentLogLine.select().where(AgentLogLine.agent == agent.id).count() == 4


async def test_agenthost_masks_secrets_a_runtime_let_through(user: User, agent_and_token):
    agent, token = agent_and_token
    await ship(user, token, [line(1, 'calling with key sk_live_abcdefghijklmnop')])
    [kept] = log_lines.recent_lines(agent.id)
    assert 'sk_live_abcdefghijklmnop' not in kept.message


async def test_only_the_newest_lines_are_kept(user: User, agent_and_token, monkeypatch):
    agent, token = agent_and_token
    monkeypatch.setattr(log_lines, 'LINES_KEPT', 5)
    await ship(user, token, [line(seq, f'line {seq}') for seq in range(1, 9)])
    assert [kept.message for kept in log_lines.recent_lines(agent.id)] == [f'line {seq}' for seq in range(4, 9)]


@pytest.mark.parametrize('bad', [line(1, level='loud'), {**line(1), 'seq': 0}, {**line(1), 'at': 'yesterday'},
                                 'just text'])
async def test_a_malformed_line_answers_422_naming_it_and_keeps_nothing(user: User, agent_and_token, bad):
    agent, token = agent_and_token
    answer = await ship(user, token, [line(1), bad])
    assert answer.status_code == 422 and answer.json()['error']['field'] == 'lines'
    assert log_lines.recent_lines(agent.id) == []


async def test_log_lines_need_the_runtime_token(user: User, agent_and_token):
    assert (await ship(user, 'rt_not-a-token', [line(1)])).status_code == 401


async def test_the_owner_reads_the_log_through_the_api_and_nobody_else(user: User, agent_and_token):
    agent, token = agent_and_token
    await ship(user, token, [line(1, 'applied config revision 1', 'info'), line(2, 'model call failed', 'warning')])
    answer = await user.http_client.get(f'/api/agents/{agent.id}/logs', headers=make_token(agent.owner))
    assert [(entry['level'], entry['message']) for entry in answer.json()['lines']] == [
        ('info', 'applied config revision 1'), ('warning', 'model call failed')]
    stranger = make_user('stranger@example.com')
    assert (await user.http_client.get(f'/api/agents/{agent.id}/logs', headers=make_token(stranger))).status_code == 404


async def test_the_agent_page_follows_the_log_live(user: User):
    account = await log_in(user)
    agent = make_agent(account, status='running')
    token = tokens.mint(agent.id, None)
    await user.open(f'/agents/{agent.id}')
    await user.should_see(marker='log-empty')
    await ship(user, token, [line(1, 'applied config revision 1')])
    await user.should_see('applied config revision 1', retries=50)
    await ship(user, token, [line(2, 'answered a chat request')])
    await user.should_see('answered a chat request', retries=50)
