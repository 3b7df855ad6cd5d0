"""Row `chat overhead`: what the agent runtime adds to a chat, against calling the same provider directly.

A model provider double (tests/) streams an answer of ANSWER_WORDS words at one word per PIECE_DELAY seconds (200
words/s, as fast as the fastest hosted models stream; the runtime's fixed cost per piece weighs more the faster the
provider streams); the official `openai` client asks it the same question alternately directly and through
`python -m runtime` (configured by the control-plane double for that provider). Figures: p50 time to the first
content token and p50 whole plain answer, each direct and through the runtime, and the streamed throughput (words/s
after the first token) through the runtime as a share of direct. Run alone with `python -m bench.chat`.
"""
import statistics
import tempfile
import time
from pathlib import Path

import openai

from tests.model_provider_double import ModelProviderDouble
from tests.runtime_control_double import RuntimeControlDouble, agent_config, runtime_process

from .measure import run_alone

KEY = 'ah_bench-chat-key'
ANSWER_WORDS = 100
PIECE_DELAY = 0.005
ROUNDS = 20
QUESTION = [{'role': 'user', 'content': 'How long is a piece of string?'}]


def timed_stream(client: openai.OpenAI) -> tuple[float, float, int]:
    """Seconds to the first content token, seconds to the end, and the number of content pieces."""
    started = time.perf_counter()
    first = None
    pieces = 0
    for chunk in client.chat.completions.create(model='gpt-double', messages=QUESTION, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter()
            pieces += 1
    return first - started, time.perf_counter() - started, pieces


def timed_answer(client: openai.OpenAI) -> float:
    started = time.perf_counter()
    client.chat.completions.create(model='gpt-double', messages=QUESTION)
    return time.perf_counter() - started


def throughput(samples: list[tuple[float, float, int]]) -> float:
    return statistics.median(pieces / (total - first) for first, total, pieces in samples)


def measure_once(rounds: int = ROUNDS) -> dict:
    provider = ModelProviderDouble(padding_words=ANSWER_WORDS, piece_delay=PIECE_DELAY)
    control = RuntimeControlDouble()
    try:
        with tempfile.TemporaryDirectory(prefix='agenthost-bench-chat-') as logs, \
                runtime_process(control.url, Path(logs)) as runtime:
            control.publish(agent_config(provider_url=provider.openai_url, keys={1: KEY}, heartbeat_seconds=15))
            with openai.OpenAI(base_url=provider.openai_url, api_key='provider-secret-key', max_retries=0) as direct, \
                    openai.OpenAI(base_url=f'{runtime.url}/v1', api_key=KEY, max_retries=2) as via:
                wait_until_answering(via)
                return compare(direct, via, rounds)
    finally:
        control.close()
        provider.close()


def wait_until_answering(client: openai.OpenAI, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            timed_answer(client)
            return
        except openai.APIStatusError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # the runtime is still fetching its config


def compare(direct: openai.OpenAI, via: openai.OpenAI, rounds: int) -> dict:
    """Alternates direct and through-the-runtime calls so both see the same machine load."""
    streams: dict[str, list] = {'direct': [], 'runtime': []}
    answers: dict[str, list] = {'direct': [], 'runtime': []}
    for _ in range(rounds):
        for name, client in (('direct', direct), ('runtime', via)):
            streams[name].append(timed_stream(client))
            answers[name].append(timed_answer(client))
    ttft = {name: statistics.median(sample[0] for sample in samples) * 1000 for name, samples in streams.items()}
    whole = {name: statistics.median(samples) * 1000 for name, samples in answers.items()}
    return {'ttft_direct_ms': ttft['direct'], 'ttft_runtime_ms': ttft['runtime'],
            'ttft_added_ms': ttft['runtime'] - ttft['direct'],
            'answer_direct_ms': whole['direct'], 'answer_runtime_ms': whole['runtime'],
            'answer_added_ms': whole['runtime'] - whole['direct'],
            'throughput_ratio': throughput(streams['runtime']) / throughput(streams['direct']),
            'direct_words_per_s': throughput(streams['direct']), 'rounds': rounds}


def measure(runs: int) -> dict:
    results = [measure_once() for _ in range(runs)]
    summary = {key: statistics.median(run[key] for run in results) for key in results[0] if key != 'rounds'}
    return {**summary, 'rounds': results[0]['rounds'], 'runs': runs}


def row(result: dict) -> tuple[str, str, str, str, str]:
    return ('chat overhead',
            f'+{result["ttft_added_ms"]:.1f} ms to first token (p50 {result["ttft_runtime_ms"]:.1f} vs '
            f'{result["ttft_direct_ms"]:.1f} ms direct), +{result["answer_added_ms"]:.1f} ms to a whole answer, '
            f'streamed throughput {result["throughput_ratio"]:.2f}× direct at {1 / PIECE_DELAY:.0f} words/s',
            'same provider double called directly; target < 5 ms added, ≥ 0.9×',
            f'{result["ttft_added_ms"] / 5:.2f}', str(result['runs']))


if __name__ == '__main__':
    run_alone(__doc__, measure, row)
