"""Talking to the agent from its page: the answer streams in piece by piece through the agent's own endpoint.

The page never holds a key: it asks `services.runtime.chat`, which calls the agent with AgentHost's own. The
conversation lives in this open page only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import run, ui

from models import AgentStatus
from services.platform.errors import DomainError
from services.provisioning import AgentState
from services.runtime import chat

from ..frame import card, guarded

if TYPE_CHECKING:
    from .page import AgentPage


class Chat:
    def __init__(self, page: AgentPage) -> None:
        self.page = page
        self.send = guarded(page.user)(self.send_message)
        self.conversation: list[dict[str, str]] = []
        with card('Chat'):
            self.hint = ui.label('Deploy the agent to chat with it.').classes('text-grey-7 text-sm') \
                .mark('chat-hint')
            self.messages = ui.column().classes('w-full gap-0').mark('chat-messages')
            with ui.row().classes('items-center gap-2 w-full no-wrap'):
                self.input = ui.input('Message', placeholder='Enter sends it to the agent').classes('flex-1') \
                    .mark('chat-input').on('keydown.enter', self.send)
                self.button = ui.button(icon='send', on_click=self.send).props('flat').mark('chat-send')
            self.error = ui.label().classes('text-negative text-sm').mark('chat-error')
        self.show(page.state)

    def show(self, state: AgentState) -> None:
        running = state.agent.status == AgentStatus.RUNNING and bool(state.agent.endpoint_url)
        self.hint.set_visibility(not running)
        self.input.set_enabled(running)
        self.button.set_enabled(running)

    async def send_message(self) -> None:
        text = (self.input.value or '').strip()
        if not text or not self.button.enabled:
            return
        self.error.text = ''
        self.input.value = ''
        self.button.disable()
        conversation = [*self.conversation, {'role': 'user', 'content': text}]
        with self.messages:
            ui.chat_message(text, name='You', sent=True).mark('chat-question')
            reply = ui.chat_message(name=self.page.state.agent.name).mark('chat-reply')
        with reply:
            answer = ui.markdown('…').mark('chat-answer')
        try:
            answer.content = await self.stream_into(answer, conversation)
        except DomainError as problem:
            reply.delete()
            self.error.text = problem.message
        else:
            self.conversation = [*conversation, {'role': 'assistant', 'content': answer.content}]
        finally:
            self.show(self.page.state)

    async def stream_into(self, answer: ui.markdown, conversation: list[dict[str, str]]) -> str:
        messages = chat.clean_messages(conversation)
        target = await run.io_bound(chat.target, self.page.user, self.page.agent_id)
        text = ''
        async for piece in chat.stream(target, messages):
            text += piece
            answer.content = text
        return text
