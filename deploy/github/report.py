#!/usr/bin/env python3
"""Send one signed progress report from the provisioning workflow to AgentHost (standard library only).

    python3 report.py --status in_progress|progress|succeeded|failed [--step S] [--message M]
                      [--ip-address IP] [--server-id ID]

Reads CALLBACK_URL, CALLBACK_SECRET and JOB_ID from the environment, and GITHUB_RUN_ID, GITHUB_SERVER_URL and
GITHUB_REPOSITORY (set by GitHub Actions) for the run's id and address. The body is signed as
`X-AgentHost-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(CALLBACK_SECRET, "<t>.<body>")>`. Connection
failures, 408, 429 and 5xx answers are retried a few times with back-off (signed afresh each time). Exit code 0
means AgentHost answered 2xx; 1 a refusal (4xx), 2 a configuration problem, 3 no success after the retries.
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


def report_body(args: argparse.Namespace, env: dict[str, str]) -> dict[str, str]:
    body = {'job_id': env['JOB_ID'], 'status': args.status, 'step': args.step or '', 'message': args.message or ''}
    if args.ip_address:
        body['ip_address'] = args.ip_address
    if args.server_id:
        body['server_id'] = args.server_id
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


def send(url: str, secret: str, payload: dict, *, attempts: int = ATTEMPTS, pause: float = 1.0) -> int:
    body = json.dumps(payload).encode()
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=body, method='POST', headers={
            'Content-Type': 'application/json', 'User-Agent': 'agenthost-report',
            'X-AgentHost-Signature': signature(body, secret, int(time.time()))})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                print(f'report: {payload["status"]} {payload.get("step", "")}: HTTP {response.status}')
                return 0
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors='replace')[:500]
            if error.code not in RETRIED:
                print(f'report: AgentHost refused the report (HTTP {error.code}): {detail}', file=sys.stderr)
                return 1
            problem = f'HTTP {error.code}: {detail}'
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            problem = str(getattr(error, 'reason', error))
        if attempt < attempts:
            print(f'report: attempt {attempt} failed ({problem}); trying again', file=sys.stderr)
            time.sleep(pause * 2 ** (attempt - 1))
    print(f'report: gave up after {attempts} attempts: {problem}', file=sys.stderr)
    return 3


def main(argv: list[str], env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    parser = argparse.ArgumentParser(description='Send a signed progress report to AgentHost.')
    parser.add_argument('--status', required=True, choices=STATUSES)
    parser.add_argument('--step', default='')
    parser.add_argument('--message', default='')
    parser.add_argument('--ip-address', default='')
    parser.add_argument('--server-id', default='')
    args = parser.parse_args(argv)
    missing = [name for name in ('CALLBACK_URL', 'CALLBACK_SECRET', 'JOB_ID') if not env.get(name)]
    if missing:
        print(f'report: set {", ".join(missing)} in the environment (the workflow passes them)', file=sys.stderr)
        return 2
    pause = float(env.get('REPORT_RETRY_SECONDS', '1'))
    return send(env['CALLBACK_URL'], env['CALLBACK_SECRET'], report_body(args, env), pause=pause)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
