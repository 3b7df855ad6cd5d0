#!/usr/bin/env python3
"""Send one signed progress report from the provisioning workflow to AgentHost (standard library only).

    python3 report.py --status in_progress|progress|succeeded|failed [--step S] [--message M]
                      [--ip-address IP] [--server-id ID] [--endpoint-url URL]

Reads CALLBACK_URL, CALLBACK_SECRET and JOB_ID from the environment, and GITHUB_RUN_ID, GITHUB_SERVER_URL and
GITHUB_REPOSITORY (set by GitHub Actions) for the run's id and address. The body is signed as
`X-AgentHost-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(CALLBACK_SECRET, "<t>.<body>")>`. Connection
failures, 408, 429 and 5xx answers are retried a few times with back-off (signed afresh each time). Exit code 0
means AgentHost answered 2xx; 1 a refusal (4xx), 2 a configuration problem, 3 no success after the retries.

`bootstrap(env)` (used by hetzner.py) signs the same way to trade the job id for the new server's runtime token at
`POST …/api/provisioning/bootstrap`; the token is never printed, and inside GitHub Actions it is masked first.
"""
import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request

STATUSES = ('in_progress', 'progress', 'succeeded', 'failed')
RETRIED = {408, 425, 429, 500, 502, 503, 504}
ATTEMPTS = 5
NOTHING_ANSWERED = 0


class BootstrapError(Exception):
    pass


def report_body(args: argparse.Namespace, env: dict[str, str]) -> dict[str, str]:
    body = {'job_id': env['JOB_ID'], 'status': args.status, 'step': args.step or '', 'message': args.message or ''}
    if args.ip_address:
        body['ip_address'] = args.ip_address
    if args.server_id:
        body['server_id'] = args.server_id
    if args.endpoint_url:
        body['endpoint_url'] = args.endpoint_url
    run_id = env.get('GITHUB_RUN_ID', '')
    if run_id:
        body['run_id'] = run_id
        server, repository = env.get('GITHUB_SERVER_URL', 'https://github.com'), env.get('GITHUB_REPOSITORY', '')
        if repository:
            body['run_url'] = f'{server}/{repository}/actions/runs/{run_id}'
    return body


def signature(body: bytes, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f'{timestamp}.'.encode() + body, hashlib.sha256).hexdigest()
    return f't={timestamp},v1={digest}'


def post_signed(url: str, secret: str, payload: dict, *, what: str, attempts: int = ATTEMPTS,
                pause: float = 1.0) -> tuple[int, str]:
    """POST the payload signed, retrying what may pass on a second try; the last answer's status and body, or
    NOTHING_ANSWERED and the reason. The body of a 2xx answer is returned, never printed (a bootstrap's is secret)."""
    body = json.dumps(payload).encode()
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=body, method='POST', headers={
            'Content-Type': 'application/json', 'User-Agent': 'agenthost-report',
            'X-AgentHost-Signature': signature(body, secret, int(time.time()))})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, response.read().decode(errors='replace')
        except urllib.error.HTTPError as error:
            status, detail = error.code, error.read().decode(errors='replace')[:500]
            if status not in RETRIED:
                return status, detail
            problem = f'HTTP {status}: {detail}'
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            status, problem = NOTHING_ANSWERED, str(getattr(error, 'reason', error))
        if attempt < attempts:
            print(f'{what}: attempt {attempt} failed ({problem}); trying again', file=sys.stderr)
            time.sleep(pause * 2 ** (attempt - 1))
    return status, f'gave up after {attempts} attempts: {problem}'


def send(url: str, secret: str, payload: dict, *, attempts: int = ATTEMPTS, pause: float = 1.0) -> int:
    status, detail = post_signed(url, secret, payload, what='report', attempts=attempts, pause=pause)
    if 200 <= status < 300:
        print(f'report: {payload["status"]} {payload.get("step", "")}: HTTP {status}')
        return 0
    if gave_up(status):
        print(f'report: {detail}', file=sys.stderr)
        return 3
    print(f'report: AgentHost refused the report (HTTP {status}): {detail}', file=sys.stderr)
    return 1


def gave_up(status: int) -> bool:
    """Whether post_signed stopped retrying (its detail then says why) rather than met a refusal."""
    return status == NOTHING_ANSWERED or status in RETRIED


def bootstrap_url(callback_url: str) -> str:
    """The bootstrap endpoint sits next to the callback one, so the workflow needs no second input for it."""
    base, slash, last = callback_url.rstrip('/').rpartition('/')
    if not slash or last != 'callback':
        raise BootstrapError(f'CALLBACK_URL must end with /callback (it is {callback_url!r})')
    return f'{base}/bootstrap'


def refusal_message(detail: str) -> str:
    """AgentHost's own words for a refusal (`{"error": {"code", "message"}}`), else the raw answer."""
    try:
        error = json.loads(detail)['error']
        return f'{error["message"]} ({error["code"]})'
    except (ValueError, KeyError, TypeError):
        return detail


def bootstrap(env: dict[str, str]) -> dict:
    """The new server's `agent_id`, `control_url` and `runtime_token`, from AgentHost; BootstrapError when it
    refuses or cannot be reached. In GitHub Actions the token is masked before anything else can print it."""
    missing = [name for name in ('CALLBACK_URL', 'CALLBACK_SECRET', 'JOB_ID') if not env.get(name)]
    if missing:
        raise BootstrapError(f'set {", ".join(missing)} in the environment (the workflow passes them)')
    status, detail = post_signed(bootstrap_url(env['CALLBACK_URL']), env['CALLBACK_SECRET'], {'job_id': env['JOB_ID']},
                                 what='bootstrap', pause=float(env.get('REPORT_RETRY_SECONDS', '1')))
    if not 200 <= status < 300:
        reason = detail if gave_up(status) else f'HTTP {status}: {refusal_message(detail)}'
        raise BootstrapError(f'AgentHost gave no runtime token for job {env["JOB_ID"]}: {reason}')
    try:
        answer = json.loads(detail)
        token = answer['runtime_token']
        fields = (str(answer['agent_id']), answer['control_url'], token)
    except (ValueError, KeyError, TypeError):
        raise BootstrapError('AgentHost answered the bootstrap without agent_id, control_url and runtime_token') \
            from None
    if not all(isinstance(field, str) and field and field.isprintable() and ' ' not in field for field in fields):
        raise BootstrapError('AgentHost answered the bootstrap with an empty or malformed field')
    if env.get('GITHUB_ACTIONS') == 'true':
        print(f'::add-mask::{token}', flush=True)
    return {'agent_id': fields[0], 'control_url': fields[1].rstrip('/'), 'runtime_token': token}


def main(argv: list[str], env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    parser = argparse.ArgumentParser(description='Send a signed progress report to AgentHost.')
    parser.add_argument('--status', required=True, choices=STATUSES)
    parser.add_argument('--step', default='')
    parser.add_argument('--message', default='')
    parser.add_argument('--ip-address', default='')
    parser.add_argument('--server-id', default='')
    parser.add_argument('--endpoint-url', default='')
    args = parser.parse_args(argv)
    missing = [name for name in ('CALLBACK_URL', 'CALLBACK_SECRET', 'JOB_ID') if not env.get(name)]
    if missing:
        print(f'report: set {", ".join(missing)} in the environment (the workflow passes them)', file=sys.stderr)
        return 2
    pause = float(env.get('REPORT_RETRY_SECONDS', '1'))
    return send(env['CALLBACK_URL'], env['CALLBACK_SECRET'], report_body(args, env), pause=pause)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
