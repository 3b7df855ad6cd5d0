"""Chat from AgentHost: the customer's messages go to the agent's own endpoint, as any client's would, with
AgentHost's own key (`api_keys.chat_key`), which never reaches a browser. What the agent answers is what its runtime
made of them: its model, its system prompt, its usage count.
"""
from collections.abc import AsyncIterator
from dataclasses import dataclass

import openai

from models import Agent, AgentStatus, User

from ..platform.inputs import text_problem
from ..provisioning.agents import owned_agent
from . import api_keys
from .errors import RuntimeControlError

ROLES = ('user', 'assistant')
MAX_MESSAGES = 200
MAX_CHARACTERS = 100_000
TIMEOUT_SECONDS = 120.0
CONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class Target:
    endpoint: str
    key: str


def invalid(message: str, field: str = 'messages') -> RuntimeControlError:
    return RuntimeControlError('INVALID_INPUT', message, field=field)


def clean_messages(messages: object) -> list[dict[str, str]]:
    """The conversation as the agent's API takes it: user and assistant turns of text, bounded in number and size."""
    if not isinstance(messages, list) or not messages:
        raise invalid('messages must be a list of {"role", "content"} objects, the last one from the user.')
    if len(messages) > MAX_MESSAGES:
        raise invalid(f'Send at most {MAX_MESSAGES} messages; start a new conversation for more.')
    cleaned = []
    for number, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) != {'role', 'content'}:
            raise invalid(f'messages[{number}] must be an object with exactly "role" and "content".')
        role, content = message['role'], message['content']
        if role not in ROLES:
            raise invalid(f'messages[{number}].role must be one of: {", ".join(ROLES)} (the agent\'s own system '
                          'prompt comes first by itself).')
        if not isinstance(content, str) or not content.strip() or text_problem(content, multiline=True):
            raise invalid(f'messages[{number}].content must be text that is not empty.')
        cleaned.append({'role': role, 'content': content})
    if sum(len(message['content']) for message in cleaned) > MAX_CHARACTERS:
        raise invalid(f'The conversation is over {MAX_CHARACTERS:,} characters; start a new one.')
    if cleaned[-1]['role'] != 'user':
        raise invalid('The last message must be from the user.')
    return cleaned


def target(owner: User, agent_id: int) -> Target:
    """Where and with which key AgentHost talks to the owner's agent; AGENT_NOT_RUNNING unless it runs."""
    agent = owned_agent(owner, agent_id)
    return target_of(agent)


def target_of(agent: Agent) -> Target:
    if agent.status != AgentStatus.RUNNING or not agent.endpoint_url:
        raise RuntimeControlError('AGENT_NOT_RUNNING', f'The agent is {agent.status}, not running: deploy it to chat '
                                                       'with it.')
    api_keys.ensure_chat_key(agent.id)
    return Target(agent.endpoint_url, api_keys.chat_key(agent.id))


def client_for(target: Target) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f'{target.endpoint}/v1', api_key=target.key, max_retries=0,
                              timeout=openai.Timeout(TIMEOUT_SECONDS, connect=CONNECT_SECONDS))


def unreachable(error: openai.OpenAIError) -> RuntimeControlError:
    """The agent's own words when it answered with an error, else what kept it from answering."""
    if isinstance(error, openai.APIStatusError):
        body = error.body if isinstance(error.body, dict) else {}
        inner = body.get('error') if isinstance(body.get('error'), dict) else body
        said = inner.get('message') or error.message
        return RuntimeControlError('AGENT_UNREACHABLE', f'The agent answered {error.status_code}: {said}')
    return RuntimeControlError('AGENT_UNREACHABLE', f'The agent did not answer ({type(error).__name__}); AgentHost '
                                                    'heals it if it stays down. Try again in a moment.')


async def complete(target: Target, messages: list[dict[str, str]]) -> dict:
    """One whole answer: {"message": {"role", "content"}, "usage": {...}}."""
    async with client_for(target) as client:
        try:
            answer = await client.chat.completions.create(model='agent', messages=messages)  # type: ignore[arg-type]
        except openai.OpenAIError as error:
            raise unreachable(error) from None
    usage = answer.usage
    return {'message': {'role': 'assistant', 'content': answer.choices[0].message.content or ''},
            'usage': {'prompt_tokens': usage.prompt_tokens if usage else 0,
                      'completion_tokens': usage.completion_tokens if usage else 0,
                      'total_tokens': usage.total_tokens if usage else 0}}


async def stream(target: Target, messages: list[dict[str, str]]) -> AsyncIterator[str]:
    """The answer piece by piece, as the agent streams it."""
    async with client_for(target) as client:
        try:
            chunks = await client.chat.completions.create(model='agent', messages=messages,  # type: ignore[arg-type]
                                                          stream=True)
            async for chunk in chunks:  # type: ignore[union-attr]
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content
        except openai.OpenAIError as error:
            raise unreachable(error) from None
