"""The shape of most admin sections: a card of rows, read again (off the event loop) each time it is shown."""
from collections.abc import Sequence
from typing import Any

from nicegui import run, ui

from ..frame import card


class ListedSection:
    """Subclasses name the card, say what to read and how to draw one row."""
    calls_out = False
    title = ''
    empty = ''
    """What the card says when there is nothing to list (nothing when empty)."""

    def __init__(self) -> None:
        with card(self.title):
            self.box = ui.column().classes('w-full gap-1')

    def read(self) -> Sequence[Any]:
        raise NotImplementedError

    def draw_row(self, row: Any) -> None:
        raise NotImplementedError

    async def show(self) -> None:
        rows = await run.io_bound(self.read)
        self.box.clear()
        with self.box:
            if not rows and self.empty:
                ui.label(self.empty).classes('text-grey-7')
            for row in rows:
                self.draw_row(row)
