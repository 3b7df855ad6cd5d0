"""Usage per agent per billing period: increases add up per model, and nothing is written for none."""
from datetime import datetime

from models import AgentUsage, write_transaction
from services.runtime import usage

from .factories import make_agent, make_user


def add(agent_id: int, model: str, requests: int, input_tokens: int = 0, output_tokens: int = 0) -> None:
    with write_transaction():
        usage.add_usage(agent_id, model, {'requests': requests, 'input_tokens': input_tokens,
                                          'output_tokens': output_tokens})


def test_increases_in_one_period_add_up():
    agent = make_agent(make_user())
    add(agent.id, 'gpt-4o-mini', 2, 30, 40)
    add(agent.id, 'gpt-4o-mini', 1, 5, 6)
    assert usage.usage_this_period(agent.id).to_dict() | {'period_start': None} == {
        'period_start': None, 'requests': 3, 'input_tokens': 35, 'output_tokens': 46}


def test_usage_is_kept_per_model():
    agent = make_agent(make_user())
    add(agent.id, 'gpt-4o-mini', 2)
    add(agent.id, 'claude-sonnet-4-5', 1)
    assert usage.usage_by_model_this_period() == [('claude-sonnet-4-5', 1, 0, 0), ('gpt-4o-mini', 2, 0, 0)]


def test_no_increase_writes_no_row():
    agent = make_agent(make_user())
    add(agent.id, 'gpt-4o-mini', 0)
    assert AgentUsage.select().count() == 0


def test_the_period_is_the_calendar_month():
    assert usage.period_start(datetime(2026, 12, 4, 13, 5)) == datetime(2026, 12, 1)


def test_usage_of_several_agents_is_kept_apart_and_zero_without_any():
    owner = make_user()
    busy, other, idle = make_agent(owner), make_agent(owner), make_agent(owner)
    add(busy.id, 'gpt-4.1', 2)
    add(other.id, 'gpt-4.1', 5)
    found = usage.usage_of_agents([busy.id, other.id, idle.id])
    assert [found[agent.id].requests for agent in (busy, other, idle)] == [2, 5, 0]
