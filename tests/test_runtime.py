"""The agent runtime (`python -m runtime`) as a customer and AgentHost see it: real processes, real HTTP, the official
`openai` client, a model provider double speaking both providers' APIs and a double of AgentHost's control endpoints.

One runtime serves this module's tests; each test publishes the config it needs and waits until it is applied.
"""
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest

from tests.model_provider_double import Failure, ModelProviderDouble
from tests.runtime_control_double import (
    RUNTIME_TOKEN,
    RuntimeControlDouble,
    RuntimeProcess,
    agent_config,
    runtime_process,
)
from tests.waiting import wait_until

KEY = 'ah_customer-key-one'
OTHER_KEY = 'ah_customer-key-two'
PROVIDER_KEY = 'provider-secret-key'
PROVIDER_TIMEOUT = '3'


@pytest.fixture(scope='module')
def provider() -> Iterator[ModelProviderDouble]:
    double = ModelProviderDouble()
    yield double
    double.close()


@pytest.fixture(scope='module')
def control() -> Iterator[RuntimeControlDouble]:
    double = RuntimeControlDouble()
    yield double
    double.close()


@pytest.fixture(scope='module')
def runtime(control, tmp_path_factory) -> Iterator[RuntimeProcess]:
    with runtime_process(control.url, tmp_path_factory.mktemp('runtime'),
                         env={'RUNTIME_PROVIDER_TIMEOUT': PROVIDER_TIMEOUT}) as process:
        yield process


def readiness(runtime: RuntimeProcess) -> httpx.Response:
    return httpx.get(f'{runtime.url}/readyz', timeout=5)


def applied(runtime: RuntimeProcess, revision: int) -> bool:
    answer = readiness(runtime)
    return answer.status_code == 200 and answer.json()['revision'] == revision


def configure(control: RuntimeControlDouble, runtime: RuntimeProcess, **options) -> int:
    revision = control.publish(agent_config(**options))
    wait_until(lambda: applied(runtime, revision), what=f'revision {revision} applied')
    return revision


@pytest.fixture
def openai_agent(provider, control, runtime) -> int:
    return configure(control, runtime, provider_url=provider.openai_url, model='gpt-double',
                     system_prompt='You are Otto.', keys={1: KEY, 2: OTHER_KEY})


@pytest.fixture
def claude_agent(provider, control, runtime) -> int:
    return configure(control, runtime, provider_url=provider.url, kind='anthropic', model='claude-double',
                     system_prompt='You are Clara.', keys={1: KEY})


def customer(runtime: RuntimeProcess, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f'{runtime.url}/v1', api_key=key, max_retries=0, timeout=30)


def ask(runtime: RuntimeProcess, text: str, *, system: str | None = None, key: str = KEY) -> str:
    messages = ([{'role': 'system', 'content': system}] if system else []) + [{'role': 'user', 'content': text}]
    with customer(runtime, key) as client:
        answer = client.chat.completions.create(model='whatever-the-caller-names', messages=messages)
    return answer.choices[0].message.content


def streamed(runtime: RuntimeProcess, text: str, **options) -> list:
    with customer(runtime) as client:
        return list(client.chat.completions.create(model='whatever', messages=[{'role': 'user', 'content': text}],
                                                   stream=True, **options))


def post_chat(runtime: RuntimeProcess, body: bytes | dict, key: str | None = KEY,
              forwarded_for: str | None = None) -> httpx.Response:
    headers = {'Authorization': f'Bearer {key}'} if key else {}
    if forwarded_for:
        headers['X-Forwarded-For'] = forwarded_for
    if isinstance(body, dict):
        return httpx.post(f'{runtime.url}/v1/chat/completions', json=body, headers=headers, timeout=30)
    return httpx.post(f'{runtime.url}/v1/chat/completions', content=body, headers=headers, timeout=30)


def test_liveness_answers_ok(runtime):
    assert httpx.get(f'{runtime.url}/healthz').json() == {'status': 'ok'}


def test_openai_model_answers_with_configured_model_whatever_the_caller_names(openai_agent, runtime):
    assert ask(runtime, 'hello').startswith('model=gpt-double ')


def test_agent_prompt_comes_before_callers_system_message(openai_agent, runtime, provider):
    assert 'system=You are Otto. | Be brief. user=hello' in ask(runtime, 'hello', system='Be brief.')
    sent = provider.asked('/v1/chat/completions')[-1].body['messages']
    assert [message['role'] for message in sent] == ['system', 'system', 'user']


def test_plain_answer_has_openai_shape_and_usage(openai_agent, runtime):
    with customer(runtime) as client:
        answer = client.chat.completions.create(model='x', messages=[{'role': 'user', 'content': 'hi'}])
    assert answer.object == 'chat.completion' and answer.model == 'gpt-double'
    assert answer.choices[0].finish_reason == 'stop'
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_claude_model_goes_through_anthropic_messages_api(claude_agent, runtime, provider):
    answer = ask(runtime, 'hello', system='Be brief.')
    assert answer == 'model=claude-double system=You are Clara.\n\nBe brief. user=hello'
    sent = provider.asked('/v1/messages')[-1]
    assert sent.body['system'].startswith('You are Clara.') and sent.body['model'] == 'claude-double'
    presented = sent.headers.get('x-api-key') or sent.headers.get('authorization', '').removeprefix('Bearer ')
    assert presented == PROVIDER_KEY


def test_openai_provider_gets_the_provider_key_not_the_customers(openai_agent, runtime, provider):
    ask(runtime, 'hello')
    assert provider.asked('/v1/chat/completions')[-1].headers['authorization'] == f'Bearer {PROVIDER_KEY}'


def test_streamed_answer_joins_to_the_plain_answer(openai_agent, runtime):
    chunks = streamed(runtime, 'stream please')
    assert ''.join(chunk.choices[0].delta.content or '' for chunk in chunks if chunk.choices) == \
        ask(runtime, 'stream please')
    assert all(chunk.object == 'chat.completion.chunk' for chunk in chunks)


def test_streamed_claude_answer_arrives_in_pieces(claude_agent, runtime):
    pieces = [chunk.choices[0].delta.content for chunk in streamed(runtime, 'one two three') if chunk.choices
              and chunk.choices[0].delta.content]
    assert len(pieces) > 3 and ''.join(pieces).endswith('user=one two three')


@pytest.mark.parametrize('agent', ['openai_agent', 'claude_agent'])
def test_stream_with_include_usage_ends_with_a_usage_chunk(agent, request, runtime):
    request.getfixturevalue(agent)
    last = streamed(runtime, 'count me', stream_options={'include_usage': True})[-1]
    assert last.choices == [] and last.usage.completion_tokens > 0 and last.usage.prompt_tokens > 0


def test_stream_ends_with_done(openai_agent, runtime):
    with httpx.stream('POST', f'{runtime.url}/v1/chat/completions', headers={'Authorization': f'Bearer {KEY}'},
                      json={'messages': [{'role': 'user', 'content': 'hi'}], 'stream': True}) as answer:
        assert answer.headers['content-type'].startswith('text/event-stream')
        events = [line for line in answer.iter_lines() if line]
    assert events[-1] == 'data: [DONE]'


def test_models_lists_the_agents_model(openai_agent, runtime):
    with customer(runtime) as client:
        assert [model.id for model in client.models.list()] == ['gpt-double']


def test_missing_key_is_refused_in_openais_shape(openai_agent, runtime):
    answer = httpx.get(f'{runtime.url}/v1/models')
    assert answer.status_code == 401
    assert answer.json()['error']['type'] == 'invalid_request_error'
    assert answer.json()['error']['code'] == 'invalid_api_key'


def test_unknown_key_is_refused(openai_agent, runtime):
    with pytest.raises(openai.AuthenticationError) as refused:
        ask(runtime, 'hello', key='ah_not-a-key-of-this-agent')
    assert refused.value.body['code'] == 'invalid_api_key'


def test_key_revoked_by_a_new_config_is_refused(openai_agent, runtime, control, provider):
    assert ask(runtime, 'hello', key=OTHER_KEY)
    configure(control, runtime, provider_url=provider.openai_url, keys={1: KEY})
    with pytest.raises(openai.AuthenticationError):
        ask(runtime, 'hello', key=OTHER_KEY)


def test_new_prompt_applies_without_restart(openai_agent, runtime, control, provider):
    before = runtime.process.pid
    configure(control, runtime, provider_url=provider.openai_url, system_prompt='You are Otto, version two.',
              keys={1: KEY})
    assert 'system=You are Otto, version two. user=' in ask(runtime, 'hello')
    assert runtime.process.pid == before and runtime.process.poll() is None


@pytest.mark.parametrize('broken', [{'api_key': ''}, {'kind': 'mistral'}])
def test_unusable_config_keeps_the_last_good_one(broken, openai_agent, runtime, control, provider):
    config = agent_config(provider_url=provider.openai_url, system_prompt='Never applied.', keys={1: KEY})
    config['provider'].update(broken)
    bad = control.publish(config)
    beat = wait_until(lambda: next((beat for beat in reversed(control.heartbeats_so_far())
                                    if f'revision {bad} not applied' in beat['message']), None),
                      what='a degraded heartbeat')
    assert beat['status'] == 'degraded' and beat['revision'] == openai_agent
    assert readiness(runtime).json() == {'status': 'ready', 'revision': openai_agent}
    assert 'system=You are Otto. user=' in ask(runtime, 'hello')


def test_heartbeats_carry_cumulative_usage_and_keys_used(openai_agent, runtime, control):
    first = control.heartbeats_so_far()[-1]
    ask(runtime, 'one')
    ask(runtime, 'two')
    later = wait_until(lambda: next((beat for beat in reversed(control.heartbeats_so_far())
                                     if beat['usage']['requests'] >= first['usage']['requests'] + 2), None),
                       what='a heartbeat counting both answers')
    assert later['boot_id'] == first['boot_id'] and later['seq'] > first['seq']
    assert later['usage']['output_tokens'] > first['usage']['output_tokens']
    assert later['status'] == 'ok' and later['revision'] == openai_agent and '1' in later['api_keys_used']


@pytest.mark.parametrize('failure', [Failure(500, 'the model is on fire'), Failure(429, 'slow down, please')])
def test_provider_error_is_a_502_with_the_providers_message(failure, openai_agent, runtime, provider):
    provider.fail_next(failure)
    with pytest.raises(openai.APIStatusError) as failed:
        ask(runtime, 'hello')
    assert failed.value.status_code == 502 and failure.message in failed.value.body['message']
    assert PROVIDER_KEY not in failed.value.response.text
    assert readiness(runtime).status_code == 200


def test_anthropic_error_while_opening_a_stream_is_a_502(claude_agent, runtime, provider):
    provider.fail_next(Failure(529, 'overloaded'))
    with pytest.raises(openai.APIStatusError) as failed:
        streamed(runtime, 'hello')
    assert failed.value.status_code == 502 and 'overloaded' in failed.value.body['message']


def test_provider_that_hangs_is_a_502_timeout_and_runtime_stays_ready(openai_agent, runtime, provider):
    provider.fail_next(Failure(200, 'never sent', delay=float(PROVIDER_TIMEOUT) + 2))
    with pytest.raises(openai.APIStatusError) as failed:
        ask(runtime, 'hello')
    assert failed.value.status_code == 502 and failed.value.body['code'] == 'provider_timeout'
    assert readiness(runtime).status_code == 200
    assert ask(runtime, 'and now?').endswith('user=and now?')


def test_provider_stream_that_stalls_ends_with_an_error_event(openai_agent, runtime, provider):
    provider.fail_next(Failure(200, stall=float(PROVIDER_TIMEOUT) + 2))
    with httpx.stream('POST', f'{runtime.url}/v1/chat/completions', headers={'Authorization': f'Bearer {KEY}'},
                      json={'messages': [{'role': 'user', 'content': 'hi'}], 'stream': True}, timeout=30) as answer:
        events = [line for line in answer.iter_lines() if line]
    assert answer.status_code == 200 and '"error"' in events[-1] and '"code":"provider_timeout"' in events[-1]
    assert readiness(runtime).status_code == 200


def test_content_parts_of_text_are_accepted(openai_agent, runtime):
    answer = post_chat(runtime, {'messages': [{'role': 'user', 'content': [{'type': 'text', 'text': 'hel'},
                                                                            {'type': 'text', 'text': 'lo'}]}]})
    assert answer.status_code == 200 and answer.json()['choices'][0]['message']['content'].endswith('user=hello')


@pytest.mark.parametrize(('body', 'says'), [
    (b'{"messages": [', 'not valid JSON'),
    (b'[]', 'JSON object'),
    ({'model': 'x'}, 'messages must be a non-empty list'),
    ({'messages': []}, 'messages must be a non-empty list'),
    ({'messages': [{'role': 'wizard', 'content': 'hi'}]}, "role 'wizard' is not supported"),
    ({'messages': [{'role': 'user', 'content': 42}]}, 'must be a string or a list of text parts'),
    ({'messages': [{'role': 'user', 'content': [{'type': 'image_url', 'image_url': {}}]}]}, 'list of text parts'),
    ({'messages': [{'role': 'system', 'content': 'only rules'}]}, 'at least one user or assistant message'),
    ({'messages': [{'role': 'user', 'content': 'x' * 200_001}]}, 'at most 200000'),
    ({'messages': [{'role': 'user', 'content': 'hi'}], 'max_tokens': 0}, 'max_tokens must be a positive'),
    ({'messages': [{'role': 'user', 'content': 'hi'}], 'temperature': 'hot'}, 'temperature must be'),
])
def test_bad_chat_body_is_a_400_in_openais_shape(body, says, openai_agent, runtime):
    answer = post_chat(runtime, body)
    assert answer.status_code == 400
    assert says in answer.json()['error']['message'] and answer.json()['error']['type'] == 'invalid_request_error'


def test_body_over_one_mebibyte_is_a_413(openai_agent, runtime):
    answer = post_chat(runtime, {'messages': [{'role': 'user', 'content': 'x' * (1024 * 1024)}]})
    assert answer.status_code == 413 and 'larger than' in answer.json()['error']['message']


def test_bad_input_leaves_the_runtime_ready(openai_agent, runtime):
    post_chat(runtime, b'{{{')
    assert readiness(runtime).status_code == 200


@contextmanager
def own_runtime(tmp_path: Path, **options) -> Iterator[tuple[RuntimeControlDouble, RuntimeProcess]]:
    """A runtime of the test's own, with a control double of its own, for tests that watch it start."""
    control = RuntimeControlDouble()
    try:
        with runtime_process(control.url, tmp_path, **options) as runtime:
            yield control, runtime
    finally:
        control.close()


def test_repeated_key_failures_from_one_address_get_429_with_retry_after(provider, tmp_path):
    with own_runtime(tmp_path) as (control, runtime):
        configure(control, runtime, provider_url=provider.openai_url, keys={1: KEY})
        answers = [post_chat(runtime, {'messages': [{'role': 'user', 'content': 'hi'}]}, key='ah_guess')
                   for _ in range(11)]
        assert [answer.status_code for answer in answers] == [401] * 10 + [429]
        assert int(answers[-1].headers['Retry-After']) > 0
        assert answers[-1].json()['error']['type'] == 'rate_limit_error'


def test_behind_the_servers_proxy_one_callers_failures_lock_out_only_that_caller(provider, tmp_path):
    """On a server Caddy reaches the runtime through Docker's bridge, so the server's runtime.env trusts the
    forwarded address (FORWARDED_ALLOW_IPS=*); without it every caller would share the bridge's address."""
    with own_runtime(tmp_path, env={'FORWARDED_ALLOW_IPS': '*'}) as (control, runtime):
        configure(control, runtime, provider_url=provider.openai_url, keys={1: KEY})
        chat = {'messages': [{'role': 'user', 'content': 'hi'}]}
        guesses = [post_chat(runtime, chat, key='ah_guess', forwarded_for='203.0.113.5') for _ in range(11)]
        assert guesses[-1].status_code == 429
        assert post_chat(runtime, chat, forwarded_for='198.51.100.7').status_code == 200


def test_not_ready_until_the_first_config_arrives(provider, tmp_path):
    with own_runtime(tmp_path) as (control, runtime):
        waiting = readiness(runtime)
        assert waiting.status_code == 503 and waiting.json()['status'] == 'not_ready'
        configure(control, runtime, provider_url=provider.openai_url, keys={1: KEY})


def test_not_ready_when_the_first_config_has_no_provider_key(provider, tmp_path):
    with own_runtime(tmp_path) as (control, runtime):
        control.publish(agent_config(provider_url=provider.openai_url, api_key='', keys={1: KEY}))
        reason = wait_until(lambda: 'no API key' in readiness(runtime).text and readiness(runtime).json(),
                            what='not ready for want of a key')
        assert reason['status'] == 'not_ready'


def test_a_wrong_runtime_token_is_reported_as_not_ready(tmp_path):
    with own_runtime(tmp_path, token='superseded-token') as (_, runtime):
        wait_until(lambda: '401' in readiness(runtime).text, what='the 401 named in /readyz')


def test_runtime_retries_until_agenthost_comes_up(provider, tmp_path):
    from tests.live_server import free_port
    port = free_port()
    with runtime_process(f'http://127.0.0.1:{port}', tmp_path) as runtime:
        wait_until(lambda: 'unreachable' in readiness(runtime).text, what='AgentHost named unreachable')
        control = RuntimeControlDouble(port=port)
        try:
            revision = control.publish(agent_config(provider_url=provider.openai_url, keys={1: KEY}))
            wait_until(lambda: applied(runtime, revision), timeout=30, what='the config after AgentHost came up')
        finally:
            control.close()


def test_three_failed_model_calls_in_a_row_report_degraded_until_one_answers(openai_agent, runtime, control,
                                                                            provider):
    ask(runtime, 'a success first: earlier tests made calls fail')
    before = len(control.heartbeats_so_far())
    provider.fail_next(*[Failure(529, 'overloaded')] * 3)
    for _ in range(3):
        with pytest.raises(openai.APIStatusError):
            ask(runtime, 'hello')
    degraded = wait_until(lambda: next((beat for beat in control.heartbeats_so_far()[before:]
                                        if beat['status'] == 'degraded'), None), what='a degraded heartbeat')
    assert 'the last 3 model calls failed' in degraded['message'] and 'overloaded' in degraded['message']
    ask(runtime, 'better now?')
    wait_until(lambda: control.heartbeats_so_far()[-1]['status'] == 'ok', what='an ok heartbeat again')


def test_log_lines_reach_agenthost_numbered_and_without_secrets(openai_agent, runtime, control, provider):
    provider.fail_next(Failure(500, f'upstream rejected {PROVIDER_KEY} and Bearer sk-live-abcdefghijkl'))
    with pytest.raises(openai.APIStatusError):
        ask(runtime, 'hello')
    ask(runtime, 'hello again')
    lines = wait_until(lambda: (lines := control.log_lines_so_far()) and any('upstream rejected' in line['message']
                                                                             for line in lines) and lines,
                       what='the failure in the shipped log')
    shipped = json.dumps(lines)
    assert PROVIDER_KEY not in shipped and RUNTIME_TOKEN not in shipped and 'sk-live-abcdefghijkl' not in shipped
    assert any(line['message'].startswith('applied config revision') for line in lines)
    seqs = [line['seq'] for line in lines]
    assert seqs == sorted(set(seqs)) and {'seq', 'at', 'level', 'message'} <= set(lines[0])
