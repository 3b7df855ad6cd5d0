"""Test data: accounts with known passwords and API tokens, agents in any state."""
from itertools import count

from models import Agent, User
from services.accounts import accounts
from services.billing import billing
from services.provisioning import agents

PASSWORD = 'correct horse battery'
_numbers = count(1)


def make_user(email: str | None = None, *, is_admin: bool = False) -> User:
    return accounts.create_user(email=email or f'user{next(_numbers)}@example.com', password=PASSWORD,
                                is_admin=is_admin)


def make_token(user: User) -> dict[str, str]:
    """Headers that authenticate as `user` on the JSON API."""
    return {'Authorization': f'Bearer {accounts.create_token(user=user, name="tests")}'}


def make_agent(owner: User, *, name: str = 'Support bot', status: str = 'draft', **fields) -> Agent:
    agent = agents.create_agent(owner=owner, data={'name': name, **fields})
    if status != 'draft':
        Agent.update(status=status).where(Agent.id == agent.id).execute()
        agent = Agent.get_by_id(agent.id)
    return agent


def make_entitled_user(email: str | None = None, *, plan: str = 'pro') -> User:
    """A user with a complimentary grant: entitled without Stripe, so provisioning tests need no billing."""
    user = make_user(email)
    billing.grant_complimentary(user=user, plan=plan, granted_by='tests')
    return user


def subscribe(double, user: User, plan: str = 'pro') -> str:
    """Checkout and pay on the Stripe double's side, then fulfil as the return page does; returns the session id."""
    billing.start_checkout(user=user, plan=plan)
    session_id = list(double.sessions)[-1]
    double.complete_checkout(session_id)
    billing.fulfil_checkout(session_id)
    return session_id
