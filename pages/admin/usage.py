"""What all agents used this billing period, by model: requests and tokens, from their heartbeats."""
from nicegui import ui

from models import User
from services.runtime import usage

from .listed import ListedSection


class Usage(ListedSection):
    title = 'Usage this period'
    empty = 'No agent has answered a request this period.'

    def __init__(self, user: User) -> None:
        super().__init__()

    def read(self) -> list[tuple[str, int, int, int]]:
        return usage.usage_by_model_this_period()

    def draw_row(self, row: tuple[str, int, int, int]) -> None:
        model, requests, input_tokens, output_tokens = row
        with ui.row().classes('items-center gap-3 w-full').mark(f'usage-{model}'):
            ui.label(model).classes('font-medium w-64')
            ui.label(f'{requests} requests, {input_tokens} input and {output_tokens} output tokens') \
                .classes('text-sm')
