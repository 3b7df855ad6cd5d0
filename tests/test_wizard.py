from nicegui import ui
from nicegui.testing import User

from models import Agent
from tests.pages_support import log_in


async def open_wizard(user: User) -> None:
    await log_in(user)
    await user.open('/agents/new')


def current_step(user: User) -> str:
    stepper = next(iter(user.find(kind=ui.stepper).elements))
    return stepper.value


async def test_next_with_an_empty_name_shows_the_problem_next_to_the_field(user: User):
    await open_wizard(user)
    user.find(marker='next-1').click()
    await user.should_see('Give the agent a name.')
    assert current_step(user) == 'Basics'


async def test_a_name_with_forbidden_characters_is_refused_on_the_first_step(user: User):
    await open_wizard(user)
    user.find(marker='name').type('bad/name')
    user.find(marker='next-1').click()
    await user.should_see('Use 1–64 letters, digits, spaces, dashes, underscores or dots.')
    assert current_step(user) == 'Basics'


async def test_enter_in_the_name_field_advances(user: User):
    await open_wizard(user)
    user.find(marker='name').type('Support bot').trigger('keydown.enter')
    assert current_step(user) == 'Model and prompt'


async def test_back_keeps_what_was_typed(user: User):
    await open_wizard(user)
    user.find(marker='name').type('Support bot')
    user.find(marker='next-1').click()
    user.find(marker='system_prompt').type('Be kind.')
    assert current_step(user) == 'Model and prompt'
    user.find(marker='back-2').click()
    assert current_step(user) == 'Basics'
    assert next(iter(user.find(marker='name').elements)).value == 'Support bot'
    user.find(marker='next-1').click()
    assert next(iter(user.find(marker='system_prompt').elements)).value == 'Be kind.'


async def test_review_shows_the_configuration_before_create(user: User):
    await open_wizard(user)
    user.find(marker='name').type('Support bot')
    user.find(marker='next-1').click()
    user.find(marker='next-2').click()
    user.find(marker='next-3').click()
    assert current_step(user) == 'Review'
    await user.should_see(marker='review-name', content='Support bot')
    await user.should_see(marker='review-region', content='fsn1')


async def test_create_makes_a_draft_and_opens_its_page(user: User):
    await open_wizard(user)
    user.find(marker='name').type('Support bot')
    user.find(marker='description').type('Answers tickets')
    user.find(marker='next-1').click()
    user.find(marker='system_prompt').type('Be kind.')
    user.find(marker='next-2').click()
    user.find(marker='next-3').click()
    user.find(marker='create').click()
    await user.should_see(marker='status-draft', retries=50)
    agent = Agent.get(Agent.name == 'Support bot')
    assert (agent.status, agent.description, agent.system_prompt) == ('draft', 'Answers tickets', 'Be kind.')
    assert (agent.model, agent.region, agent.size) == ('claude-sonnet-4-5', 'fsn1', 'small')
    await user.should_see('Answers tickets')
