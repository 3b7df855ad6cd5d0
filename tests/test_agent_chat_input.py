"""What a chat request to an agent may hold: refused with a message naming the problem, before any agent is asked."""
import pytest

from services.runtime import chat
from services.runtime.errors import RuntimeControlError


@pytest.mark.parametrize(('messages', 'says'), [
    (None, 'must be a list'),
    ([], 'must be a list'),
    ([{'role': 'system', 'content': 'x'}], 'role must be one of'),
    ([{'role': 'tool', 'content': 'x'}], 'role must be one of'),
    ([{'role': 'user'}], 'exactly "role" and "content"'),
    ([{'role': 'user', 'content': '  '}], 'not empty'),
    ([{'role': 'user', 'content': 42}], 'not empty'),
    ([{'role': 'user', 'content': 'x' * 100_001}], 'over 100,000 characters'),
    ([{'role': 'user', 'content': 'x'}] * 201, 'at most 200 messages'),
    ([{'role': 'user', 'content': 'x'}, {'role': 'assistant', 'content': 'y'}], 'last message must be from the user'),
])
def test_a_bad_conversation_is_refused_naming_the_problem(messages, says):
    with pytest.raises(RuntimeControlError) as refused:
        chat.clean_messages(messages)
    assert refused.value.code == 'INVALID_INPUT' and says in refused.value.message


def test_a_conversation_of_user_and_assistant_turns_is_kept_as_it_is():
    messages = [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello'},
                {'role': 'user', 'content': 'Bye'}]
    assert chat.clean_messages(messages) == messages
