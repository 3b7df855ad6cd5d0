"""`/agents/{id}`: an agent's configuration, live provisioning steps and timeline, and the actions its state allows.

The page rebuilds from the database whenever `events.agent_changed` names its agent (a callback, a webhook, the
dispatcher, another browser), and on every load, so a browser that reconnects late sees the truth. `AgentPage`
holds what is shown; each section of the page is a module of this package, listed once in `page.SECTIONS`.
"""
from nicegui import ui

from models import MAX_ID, User
from services import provisioning
from services.platform.errors import DomainError
from services.provisioning import AgentState

from ..frame import attempt, frame, signed_in_user
from .page import AgentPage


@ui.page('/agents/{agent_id}')
async def agent_detail_page(agent_id: int) -> None:
    user = await signed_in_user()
    if user is None:
        return
    refusals: list[DomainError] = []
    state = await attempt(first_read, user, agent_id, on_error=refusals.append)
    if state is None:
        show_not_found(user, refusals[0].message)
        return
    AgentPage(user, state).build()


def first_read(user: User, agent_id: int) -> AgentState:
    """The agent as the page opens; an id that cannot exist is answered like one that does not."""
    if not 0 < agent_id <= MAX_ID:
        raise DomainError('NOT_FOUND', f'There is no agent {agent_id}.')
    return provisioning.agent_state(owner=user, agent_id=agent_id)


def show_not_found(user: User, message: str) -> None:
    with frame('Agent not found', user):
        ui.label(message).mark('not-found')
        ui.link('Back to your agents', '/')
