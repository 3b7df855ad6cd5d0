"""The agent's API keys: create one (shown once), see when each was last used, revoke one."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import run, ui

from models import AgentApiKey
from services.provisioning import AgentState
from services.runtime import api_keys

from ..frame import attempt, card, guarded

if TYPE_CHECKING:
    from .page import AgentPage


def keys_of(keys: list[AgentApiKey]) -> tuple:
    return tuple((key.id, key.name, key.last_used_at) for key in keys)


class Keys:
    def __init__(self, page: AgentPage) -> None:
        self.page = page
        as_user = guarded(page.user)
        self.create = as_user(self.create_key)
        self.revoke = as_user(self.revoke_key)
        with card('API keys'):
            ui.label('Clients send a key as "Authorization: Bearer <key>" to the agent\'s endpoint (any OpenAI '
                     'client works).').classes('text-sm text-grey-7')
            self.rows = ui.column().classes('w-full gap-1').mark('keys')
            with ui.row().classes('items-center gap-2'):
                self.name = ui.input('Name of a new key', placeholder='the app that will use it') \
                    .mark('key-name').on('keydown.enter', self.create)
                ui.button('Create key', icon='key', on_click=self.create).mark('create-key')
            self.error = ui.label().classes('text-negative text-sm').mark('key-error')
        self.shown_key = ui.dialog()
        self.shown: tuple | None = None
        self.show(page.state)

    def show(self, state: AgentState) -> None:
        """Redrawn only when the keys changed (here, or through the API)."""
        if keys_of(state.keys) != self.shown:
            self.draw(state.keys)

    async def list_keys(self) -> None:
        self.draw(await run.io_bound(api_keys.listed_keys, self.page.agent_id))

    def draw(self, keys: list[AgentApiKey]) -> None:
        self.shown = keys_of(keys)
        self.rows.clear()
        with self.rows:
            if not keys:
                ui.label('No keys yet.').classes('text-grey-7 text-sm')
            for key in keys:
                self.key_row(key)

    def key_row(self, key: AgentApiKey) -> None:
        used = f'last used {key.last_used_at:%Y-%m-%d %H:%M} UTC' if key.last_used_at else 'never used'
        with ui.row().classes('items-center gap-3 w-full').mark(f'key-{key.id}'):
            ui.label(key.name).classes('font-medium w-48')
            ui.label(f'created {key.created_at:%Y-%m-%d}, {used}').classes('text-sm flex-1')
            ui.button('Revoke', on_click=lambda: self.revoke(key)).props('flat dense color=negative') \
                .mark(f'revoke-key-{key.id}')

    async def create_key(self) -> None:
        self.error.text = ''
        new = await attempt(api_keys.create_key, self.page.agent_id, self.name.value, error_label=self.error)
        if new is None:
            return
        self.name.value = ''
        self.shown_key.clear()
        with self.shown_key, ui.card():
            ui.label(f'The key "{new.name}"').classes('text-lg font-medium')
            ui.label('Copy it now: it is shown only this once.').classes('text-sm')
            ui.label(new.key).classes('font-mono break-all').mark('new-key')
            with ui.row():
                ui.button('Copy', icon='content_copy', on_click=lambda: ui.clipboard.write(new.key))
                ui.button('Done', on_click=self.shown_key.close).props('flat').mark('close-key')
        self.shown_key.open()
        await self.list_keys()

    async def revoke_key(self, key: AgentApiKey) -> None:
        if await attempt(api_keys.revoke_key, self.page.agent_id, key.id) is None:
            return
        ui.notify(f'The key "{key.name}" is revoked; the agent refuses it within seconds.')
        await self.list_keys()
