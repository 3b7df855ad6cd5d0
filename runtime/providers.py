"""Model providers through their official SDKs: Anthropic's Messages API for Claude, OpenAI's Chat Completions for
every other model (any OpenAI-compatible server: Ollama, vLLM, a gateway). Both answer in one internal shape."""
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anthropic
import openai

from .config import AgentConfig
from .errors import RuntimeApiError, provider_failed
from .limits import DEFAULT_MAX_TOKENS, ChatRequest

# One bounded wait per provider read, and no retries here: the caller's own SDK retries our 502, and retrying at
# both ends would multiply a hanging provider's wait.
PROVIDER_TIMEOUT_SECONDS = float(os.environ.get('RUNTIME_PROVIDER_TIMEOUT', '120'))
PROVIDER_CONNECT_SECONDS = 10.0
PROVIDER_RETRIES = 0


@dataclass(frozen=True)
class Reply:
    text: str
    finish_reason: str
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Delta:
    """One piece of a streamed answer: text, or (last) the finish reason and the usage."""
    text: str = ''
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0


ANTHROPIC_FINISH = {'end_turn': 'stop', 'stop_sequence': 'stop', 'max_tokens': 'length', 'tool_use': 'tool_calls'}


def provider_message(error: Exception, api_key: str) -> str:
    """The provider's own words about the failure, with the provider key scrubbed should it ever be echoed."""
    body = getattr(error, 'body', None)
    message = getattr(error, 'message', None) or str(error)
    if isinstance(body, dict):
        inner = body.get('error') if isinstance(body.get('error'), dict) else body
        message = str(inner.get('message') or message)
    return message.replace(api_key, '***') if api_key else message


def translated(error: Exception, api_key: str) -> RuntimeApiError:
    if isinstance(error, anthropic.APITimeoutError | openai.APITimeoutError):
        return provider_failed(f'the model provider did not answer within {PROVIDER_TIMEOUT_SECONDS:g} s',
                               code='provider_timeout')
    if isinstance(error, anthropic.APIConnectionError | openai.APIConnectionError):
        return provider_failed(f'the model provider could not be reached: {provider_message(error, api_key)}',
                               code='provider_unreachable')
    status = getattr(error, 'status_code', None)
    return provider_failed(f'the model provider answered {status or "an error"}: {provider_message(error, api_key)}')


class SdkProvider:
    """What both providers share: one SDK client per config, and the SDK's errors in OpenAI's shape."""
    sdk: Any
    client_class: Any

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.client = self.client_class(api_key=config.provider_api_key, base_url=config.provider_base_url,
                                        timeout=self.sdk.Timeout(PROVIDER_TIMEOUT_SECONDS,
                                                                 connect=PROVIDER_CONNECT_SECONDS),
                                        max_retries=PROVIDER_RETRIES)

    @contextmanager
    def provider_errors(self) -> Iterator[None]:
        try:
            yield
        except self.sdk.APIError as error:
            raise translated(error, self.config.provider_api_key) from None

    async def close(self) -> None:
        await self.client.close()


class AnthropicProvider(SdkProvider):
    sdk = anthropic
    client_class = anthropic.AsyncAnthropic

    def arguments(self, request: ChatRequest) -> dict:
        """The agent's prompt first, then the caller's system messages, as Anthropic's separate `system`."""
        system = '\n\n'.join([self.config.system_prompt] + [message.content for message in request.messages
                                                            if message.role == 'system'])
        messages = [{'role': message.role, 'content': message.content} for message in request.messages
                    if message.role != 'system']
        arguments = {'model': self.config.model, 'system': system, 'messages': messages,
                     'max_tokens': request.max_tokens or DEFAULT_MAX_TOKENS}
        if request.temperature is not None:
            arguments['temperature'] = min(request.temperature, 1.0)
        return arguments

    async def complete(self, request: ChatRequest) -> Reply:
        with self.provider_errors():
            answer = await self.client.messages.create(**self.arguments(request))
        text = ''.join(block.text for block in answer.content if block.type == 'text')
        return Reply(text, ANTHROPIC_FINISH.get(answer.stop_reason or '', 'stop'), answer.usage.input_tokens,
                     answer.usage.output_tokens)

    async def open_stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Starts the provider's stream (so its refusal is still an ordinary error) and returns its deltas."""
        with self.provider_errors():
            events = await self.client.messages.create(**self.arguments(request), stream=True)
        return self.deltas(events)

    async def deltas(self, events: anthropic.AsyncStream) -> AsyncIterator[Delta]:
        input_tokens = output_tokens = 0
        finish = 'stop'
        try:
            with self.provider_errors():
                async for event in events:
                    if event.type == 'message_start':
                        input_tokens = event.message.usage.input_tokens
                        output_tokens = event.message.usage.output_tokens
                    elif event.type == 'content_block_delta' and event.delta.type == 'text_delta':
                        yield Delta(text=event.delta.text)
                    elif event.type == 'message_delta':
                        output_tokens = event.usage.output_tokens
                        finish = ANTHROPIC_FINISH.get(event.delta.stop_reason or '', 'stop')
        finally:
            await events.close()
        yield Delta(finish_reason=finish, input_tokens=input_tokens, output_tokens=output_tokens)


class OpenAIProvider(SdkProvider):
    sdk = openai
    client_class = openai.AsyncOpenAI

    def arguments(self, request: ChatRequest) -> dict:
        """The agent's prompt as the first system message; the caller's messages follow in their order."""
        messages = [{'role': 'system', 'content': self.config.system_prompt}]
        messages += [{'role': message.role, 'content': message.content} for message in request.messages]
        arguments: dict = {'model': self.config.model, 'messages': messages}
        if request.max_tokens is not None:
            arguments['max_tokens'] = request.max_tokens
        if request.temperature is not None:
            arguments['temperature'] = request.temperature
        return arguments

    async def complete(self, request: ChatRequest) -> Reply:
        with self.provider_errors():
            answer = await self.client.chat.completions.create(**self.arguments(request))
        choice = answer.choices[0] if answer.choices else None
        usage = answer.usage
        return Reply(choice.message.content or '' if choice else '', (choice and choice.finish_reason) or 'stop',
                     usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0)

    async def open_stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        """Asks for usage in the stream always: the runtime counts tokens whether or not the caller wants them."""
        with self.provider_errors():
            chunks = await self.client.chat.completions.create(**self.arguments(request), stream=True,
                                                               stream_options={'include_usage': True})
        return self.deltas(chunks)

    async def deltas(self, chunks: openai.AsyncStream) -> AsyncIterator[Delta]:
        input_tokens = output_tokens = 0
        finish = 'stop'
        try:
            with self.provider_errors():
                async for chunk in chunks:
                    if chunk.usage:
                        input_tokens, output_tokens = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
                    for choice in chunk.choices:
                        if choice.delta and choice.delta.content:
                            yield Delta(text=choice.delta.content)
                        if choice.finish_reason:
                            finish = choice.finish_reason
        finally:
            await chunks.close()
        yield Delta(finish_reason=finish, input_tokens=input_tokens, output_tokens=output_tokens)


Provider = AnthropicProvider | OpenAIProvider


def provider_for(config: AgentConfig) -> Provider:
    return AnthropicProvider(config) if config.provider_kind == 'anthropic' else OpenAIProvider(config)
