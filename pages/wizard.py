"""`/agents/new`: the four-step wizard that creates a draft agent.

Each step validates its own fields with the same rules the API applies (`services.provisioning.agents.validate_field`),
so a message appears next to the field before anything is sent; Back keeps what was typed.
"""
from functools import partial

from nicegui import ui

from models import User
from services.billing import billing, plans
from services.platform import model_providers
from services.platform.errors import DomainError
from services.platform.settings import get_settings
from services.provisioning import agents

from .frame import attempt, frame, guarded, signed_in_user

STEPS = ('Basics', 'Model and prompt', 'Region and size', 'Review')
FIELD_STEP = {'name': 'Basics', 'description': 'Basics', 'model': 'Model and prompt',
              'system_prompt': 'Model and prompt', 'region': 'Region and size', 'size': 'Region and size'}


@ui.page('/agents/new')
async def wizard_page() -> None:
    user = await signed_in_user()
    if user is None:
        return
    Wizard(user).build()


def ends_in_checkout() -> bool:
    """In per_agent mode the wizard ends in Stripe Checkout for the new agent; paying deploys it."""
    return get_settings().billing_mode == 'per_agent' and plans.billing_is_configured()


def rule(field: str):
    return partial(agents.validate_field, field)


def choice(field: str, label: str) -> ui.select:
    options = agents.choices(field)
    select = ui.select(options, label=label, value=options[0] if options else None, validation=rule(field)) \
        .classes('w-full').mark(field)
    if field == 'model' and not options:
        ui.label(model_providers.NONE_CONFIGURED).classes('text-negative text-sm').mark('no-model-provider')
    return select


class Wizard:
    """The stepper, its fields by name, and the Create action."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.create = guarded(user)(self.create_agent)
        self.inputs: dict[str, ui.input | ui.textarea | ui.select] = {}
        self.create_button: ui.button | None = None

    def build(self) -> None:
        with frame('New agent', self.user), ui.stepper().props('vertical').classes('w-full') as self.stepper:
            with ui.step('Basics'):
                self.inputs['name'] = self.text_input('name', 'Name', 'Basics').props('autofocus counter maxlength=64')
                self.inputs['description'] = self.text_input('description', 'Description (optional)', 'Basics')
                self.navigation('Basics')
            with ui.step('Model and prompt'):
                self.inputs['model'] = choice('model', 'Model')
                self.inputs['system_prompt'] = ui.textarea('System prompt (optional)',
                                                           validation=rule('system_prompt')) \
                    .classes('w-full').mark('system_prompt')
                self.navigation('Model and prompt')
            with ui.step('Region and size'):
                self.inputs['region'] = choice('region', 'Region')
                self.inputs['size'] = choice('size', 'Server size')
                self.navigation('Region and size')
            with ui.step('Review'):
                ui.label('Check the configuration, then create the agent as a draft.')
                if ends_in_checkout():
                    ui.label('After Create you pay for this agent in Stripe Checkout; paying deploys it.') \
                        .classes('text-grey-7').mark('pay-hint')
                self.review = ui.column().classes('gap-1')
                self.navigation('Review')

    def text_input(self, field: str, label: str, step: str) -> ui.input:
        element = ui.input(label, validation=rule(field)).classes('w-full').mark(field)
        element.on('keydown.enter', lambda: self.next_from(step))
        return element

    def navigation(self, step: str) -> None:
        with ui.stepper_navigation():
            if step == 'Review':
                self.create_button = ui.button('Create', on_click=self.create).mark('create')
            else:
                ui.button('Next', on_click=lambda: self.next_from(step)).mark(f'next-{STEPS.index(step) + 1}')
            if step != 'Basics':
                ui.button('Back', on_click=lambda: self.stepper.set_value(STEPS[STEPS.index(step) - 1])) \
                    .props('flat').mark(f'back-{STEPS.index(step) + 1}')

    def step_is_valid(self, step: str) -> bool:
        return all([self.inputs[field].validate() for field, owner in FIELD_STEP.items() if owner == step])

    def next_from(self, step: str) -> None:
        if self.step_is_valid(step):
            if step == 'Region and size':
                self.fill_review()
            self.stepper.value = STEPS[STEPS.index(step) + 1]  # set here, not client-side, so the server knows it

    def fill_review(self) -> None:
        self.review.clear()
        with self.review:
            for field, element in self.inputs.items():
                with ui.row().classes('gap-2'):
                    ui.label(field.replace('_', ' ').capitalize() + ':').classes('font-medium w-32')
                    ui.label(str(element.value or '—')).classes('whitespace-pre-wrap').mark(f'review-{field}')

    async def create_agent(self) -> None:
        if not all(self.step_is_valid(step) for step in STEPS[:3]):
            return
        self.create_button.disable()
        agent = await attempt(agents.create_agent, owner=self.user, on_error=self.show_refusal,
                              data={field: element.value for field, element in self.inputs.items()})
        if agent is None:
            return
        if ends_in_checkout():
            await self.pay_for(agent.id)
        else:
            ui.navigate.to(f'/agents/{agent.id}')

    def show_refusal(self, problem: DomainError) -> None:
        """Back to the step of the field the refusal names, with the message under it."""
        self.create_button.enable()
        if problem.field in self.inputs:
            self.inputs[problem.field].error = problem.message
            self.stepper.value = FIELD_STEP[problem.field]
        else:
            ui.notify(problem.message, type='negative')

    async def pay_for(self, agent_id: int) -> None:
        def checkout_failed(problem: DomainError) -> None:
            ui.notify(f'The agent was created, but Checkout could not open: {problem.message}', type='warning')

        url = await attempt(billing.start_checkout, user=self.user, agent_id=agent_id, on_error=checkout_failed)
        ui.navigate.to(url or f'/agents/{agent_id}')
