"""`/agents/new`: the four-step wizard that creates a draft agent.

Each step validates its own fields with the same rules the API applies (`services.provisioning.agents.validate_field`),
so a message appears next to the field before anything is sent; Back keeps what was typed.
"""
from functools import partial

from nicegui import run, ui

from services.billing import billing, plans
from services.platform.errors import DomainError
from services.platform.settings import get_settings
from services.provisioning import agents
from services.provisioning.agents import AgentError

from .frame import frame, guarded, signed_in_user

STEPS = ('Basics', 'Model and prompt', 'Region and size', 'Review')
FIELD_STEP = {'name': 'Basics', 'description': 'Basics', 'model': 'Model and prompt',
              'system_prompt': 'Model and prompt', 'region': 'Region and size', 'size': 'Region and size'}


@ui.page('/agents/new')
async def wizard_page() -> None:
    user = await signed_in_user()
    if user is None:
        return
    inputs: dict[str, ui.input | ui.textarea | ui.select] = {}
    buttons: dict[str, ui.button] = {}

    def rule(field: str):
        return partial(agents.validate_field, field)

    def step_is_valid(step: str) -> bool:
        return all([inputs[field].validate() for field, owner in FIELD_STEP.items() if owner == step])

    def next_from(step: str) -> None:
        if step_is_valid(step):
            if step == 'Region and size':
                fill_review()
            stepper.value = STEPS[STEPS.index(step) + 1]  # set here, not client-side, so the server knows the step

    def fill_review() -> None:
        review.clear()
        with review:
            for field, element in inputs.items():
                with ui.row().classes('gap-2'):
                    ui.label(field.replace('_', ' ').capitalize() + ':').classes('font-medium w-32')
                    ui.label(str(element.value or '—')).classes('whitespace-pre-wrap').mark(f'review-{field}')

    @guarded(user)
    async def create() -> None:
        if not all(step_is_valid(step) for step in STEPS[:3]):
            return
        buttons['create'].disable()
        try:
            agent = await run.io_bound(agents.create_agent, owner=user,
                                       data={field: element.value for field, element in inputs.items()})
        except AgentError as problem:
            buttons['create'].enable()
            if problem.field in inputs:
                inputs[problem.field].error = problem.message
                stepper.value = FIELD_STEP[problem.field]
            else:
                ui.notify(problem.message, type='negative')
            return
        if get_settings().billing_mode == 'per_agent' and plans.billing_is_configured():
            await pay_for(agent.id)
        else:
            ui.navigate.to(f'/agents/{agent.id}')

    async def pay_for(agent_id: int) -> None:
        """In per_agent mode the wizard ends in Stripe Checkout for the new agent; paying deploys it."""
        try:
            url = await run.io_bound(billing.start_checkout, user=user, agent_id=agent_id)
        except DomainError as problem:
            ui.notify(f'The agent was created, but Checkout could not open: {problem.message}', type='warning')
            url = f'/agents/{agent_id}'
        ui.navigate.to(url)

    def navigation(step: str) -> None:
        with ui.stepper_navigation():
            if step == 'Review':
                buttons['create'] = ui.button('Create', on_click=create).mark('create')
            else:
                ui.button('Next', on_click=lambda: next_from(step)).mark(f'next-{STEPS.index(step) + 1}')
            if step != 'Basics':
                ui.button('Back', on_click=lambda: stepper.set_value(STEPS[STEPS.index(step) - 1])) \
                    .props('flat').mark(f'back-{STEPS.index(step) + 1}')

    def text_input(field: str, label: str, step: str) -> ui.input:
        element = ui.input(label, validation=rule(field)).classes('w-full').mark(field)
        element.on('keydown.enter', lambda: next_from(step))
        return element

    def choice(field: str, label: str) -> ui.select:
        options = agents.choices(field)
        return ui.select(options, label=label, value=options[0], validation=rule(field)).classes('w-full') \
            .mark(field)

    with frame('New agent', user), ui.stepper().props('vertical').classes('w-full') as stepper:
        with ui.step('Basics'):
            inputs['name'] = text_input('name', 'Name', 'Basics').props('autofocus counter maxlength=64')
            inputs['description'] = text_input('description', 'Description (optional)', 'Basics')
            navigation('Basics')
        with ui.step('Model and prompt'):
            inputs['model'] = choice('model', 'Model')
            inputs['system_prompt'] = ui.textarea('System prompt (optional)', validation=rule('system_prompt')) \
                    .classes('w-full').mark('system_prompt')
            navigation('Model and prompt')
        with ui.step('Region and size'):
            inputs['region'] = choice('region', 'Region')
            inputs['size'] = choice('size', 'Server size')
            navigation('Region and size')
        with ui.step('Review'):
            ui.label('Check the configuration, then create the agent as a draft.')
            if get_settings().billing_mode == 'per_agent' and plans.billing_is_configured():
                ui.label('After Create you pay for this agent in Stripe Checkout; paying deploys it.') \
                        .classes('text-grey-7').mark('pay-hint')
            review = ui.column().classes('gap-1')
            navigation('Review')
