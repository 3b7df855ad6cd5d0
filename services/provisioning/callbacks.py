"""Verifying what the workflow and GitHub send us, before `services.provisioning` acts on it.

- Callbacks: `X-AgentHost-Signature: t=<unix>,v1=<hex HMAC-SHA256(CALLBACK_SECRET, "<t>.<raw body>")>`, at most
  300 s old (several `v1` may be sent while a secret is rotated).
- GitHub webhooks: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(GITHUB_WEBHOOK_SECRET, raw body)>`, deduplicated
  on `X-GitHub-Delivery` through the shared webhook store.
Signatures are checked over the raw bytes, in constant time, and nothing is stored for a bad one.
"""
import hashlib
import hmac
import json
import re
import time

from models import EventStatus, WebhookEvent, parse_id

from ..platform import metrics, webhook_store
from ..platform.errors import DomainError
from ..platform.inputs import parse_json, parse_json_object, text_problem
from ..platform.settings import get_settings
from . import reports, workflow_runs
from .jobs import ProvisioningError
from .reports import CALLBACK_STATUSES, Report

GITHUB = 'github'
TOLERANCE_SECONDS = 300
MAX_SIGNATURE_HEADER = 1024  # a timestamp and a few digests while a secret is rotated
TIMESTAMP_PATTERN = re.compile(r'[0-9]{1,12}')
CALLBACK_FIELDS = ('job_id', 'status', 'step', 'message', 'ip_address', 'server_id', 'run_id', 'run_url',
                   'endpoint_url')
FIELD_LIMITS = {'step': 64, 'ip_address': 64, 'server_id': 64, 'run_id': 32, 'run_url': 512, 'endpoint_url': 255}
"""What the columns hold; longer values are refused (PostgreSQL would refuse them later, as a 500)."""
MESSAGE_LIMIT = 2000
ENDPOINT_URL = re.compile(r'https://[A-Za-z0-9.-]+(:[0-9]{1,5})?')
"""Where a server's runtime answers, behind its own Caddy: always HTTPS (API keys travel to it)."""


class SignatureError(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__('SIGNATURE_INVALID', message)


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `X-AgentHost-Signature` header for `body` (what `deploy/github/report.py` sends)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f'{timestamp}.'.encode() + body, hashlib.sha256).hexdigest()
    return f't={timestamp},v1={digest}'


def signature_fields(header: str | None, *, header_name: str) -> dict[str, list[str]]:
    """`key=value` pairs of a signature header (`t=…,v1=…` or `sha256=…`), each key with all its values.

    One parser for both senders: anything but a short ASCII header is refused before a value reaches `int()` or
    `hmac.compare_digest`, which raise on thousands of digits or non-ASCII text.
    """
    if not header:
        raise SignatureError(f'The {header_name} header is missing.')
    if len(header) > MAX_SIGNATURE_HEADER or not header.isascii():
        raise SignatureError(f'The {header_name} header is malformed: expected short ASCII text.')
    fields: dict[str, list[str]] = {}
    for part in header.split(','):
        key, separator, value = part.partition('=')
        if separator:
            fields.setdefault(key.strip(), []).append(value.strip())
    return fields


def verify_callback_signature(body: bytes, header: str | None, secret: str, *, now: float | None = None) -> None:
    fields = signature_fields(header, header_name='X-AgentHost-Signature')
    timestamps, signatures = fields.get('t', []), fields.get('v1', [])
    if len(timestamps) != 1 or not TIMESTAMP_PATTERN.fullmatch(timestamps[0]) or not signatures:
        raise SignatureError('The X-AgentHost-Signature header is malformed; expected t=<unix>,v1=<hex>.')
    now = time.time() if now is None else now
    if abs(now - int(timestamps[0])) > TOLERANCE_SECONDS:
        raise SignatureError(f'The signature is older than {TOLERANCE_SECONDS} s (or from the future); check the '
                             'clock of the sender.')
    expected = hmac.new(secret.encode(), f'{timestamps[0]}.'.encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise SignatureError('The signature does not match; the sender must use the same CALLBACK_SECRET.')


def verify_hub_signature(body: bytes, header: str | None, secret: str) -> None:
    digests = signature_fields(header, header_name='X-Hub-Signature-256').get('sha256', [])
    if len(digests) != 1:
        raise SignatureError('The X-Hub-Signature-256 header is malformed; expected sha256=<hex>.')
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digests[0]):
        raise SignatureError('The signature does not match; GITHUB_WEBHOOK_SECRET must equal the webhook\'s secret.')


def verify_from_workflow(body: bytes, signature: str | None) -> None:
    """What the workflow sends (callbacks, bootstrap) is signed with CALLBACK_SECRET; nothing is accepted unsigned."""
    secret = get_settings().callback_secret
    if not secret:
        raise ProvisioningError('PROVISIONING_NOT_CONFIGURED', 'CALLBACK_SECRET is not set, so what the workflow '
                                                               'sends cannot be verified.')
    verify_callback_signature(body, signature, secret)


def receive_callback(body: bytes, signature: str | None) -> dict:
    """Verify and apply one callback; answers what happened to the job."""
    verify_from_workflow(body, signature)
    with metrics.callback_latency.time():
        job, changed = reports.apply_report(parse_report(body))
    return {'job_id': job.id, 'status': job.status, 'changed': changed}


def parse_report(body: bytes) -> Report:
    data = parse_json_object(body)
    job_id = parse_id(data.get('job_id'))
    if job_id is None:
        raise DomainError('INVALID_INPUT', 'job_id must be the job\'s number.', field='job_id')
    if data.get('status') not in CALLBACK_STATUSES:
        raise DomainError('INVALID_INPUT', f'status must be one of {", ".join(CALLBACK_STATUSES)}.', field='status')
    fields = {}
    for name in CALLBACK_FIELDS[2:]:
        value = data.get(name)
        if value is not None and not isinstance(value, (str, int)):
            raise DomainError('INVALID_INPUT', f'{name} must be text.', field=name)
        text = '' if value is None else str(value)[:MESSAGE_LIMIT]
        if problem := text_problem(text, multiline=name == 'message'):
            raise DomainError('INVALID_INPUT', f'{name}: {problem}', field=name)
        if len(text) > FIELD_LIMITS.get(name, MESSAGE_LIMIT):
            raise DomainError('INVALID_INPUT', f'{name} must be at most {FIELD_LIMITS[name]} characters.', field=name)
        fields[name] = text
    if fields['endpoint_url'] and not ENDPOINT_URL.fullmatch(fields['endpoint_url']):
        raise DomainError('INVALID_INPUT', 'endpoint_url must be an https:// URL without a path, such as '
                                           'https://203-0-113-7.sslip.io.', field='endpoint_url')
    return Report(job_id=job_id, status=data['status'], **fields)


def receive_github_webhook(body: bytes, headers: dict[str, str]) -> dict:
    """Verify, store once by delivery id, and apply a GitHub webhook delivery."""
    secret = get_settings().github_webhook_secret
    if not secret:
        raise DomainError('WEBHOOK_NOT_CONFIGURED', 'GITHUB_WEBHOOK_SECRET is not set, so GitHub webhooks cannot '
                                                    'be verified.')
    verify_hub_signature(body, headers.get('x-hub-signature-256'), secret)
    delivery = headers.get('x-github-delivery', '').strip()
    kind = headers.get('x-github-event', '').strip()
    if not delivery:
        raise DomainError('INVALID_INPUT', 'The X-GitHub-Delivery header is missing.', field='X-GitHub-Delivery')
    for name, value, limit in (('X-GitHub-Delivery', delivery, 255), ('X-GitHub-Event', kind, 128)):
        if len(value) > limit or text_problem(value):  # headers are not signed: bound what the columns hold
            raise DomainError('INVALID_INPUT', f'The {name} header must be at most {limit} characters of text.',
                              field=name)
    payload = parse_json(body)
    logged = {name: value for name, value in headers.items() if name.startswith('x-github') or name == 'user-agent'}
    # A manual redelivery of one that failed is applied again; any other duplicate is only logged.
    stored = webhook_store.store(source=GITHUB, event_id=delivery, type=kind, payload=body.decode(), headers=logged,
                                 redelivery_retries=True)
    if not stored.to_process:
        return {'received': True, 'duplicate': True}
    return {'received': True, 'result': _apply_github_event(stored.event, kind, payload)}


def reprocess_github_event(event_id: str) -> str:
    """Apply a stored GitHub delivery again (the admin page's Reprocess); returns what it did."""
    return webhook_store.reprocess(GITHUB, event_id, _apply_stored)


def _apply_stored(event_id: str) -> str:
    event = webhook_store.find(GITHUB, event_id)
    return _apply_github_event(event, event.type, json.loads(event.payload))


def _apply_github_event(event: WebhookEvent, kind: str, payload: object) -> str:
    """Apply a `workflow_run` delivery to its job; a failure is kept with its traceback (no automatic retry:
    GitHub's own Redeliver, or the admin page's Reprocess, runs it again)."""
    webhook_store.count_attempt(event)
    result = EventStatus.IGNORED
    try:
        if kind == 'workflow_run' and isinstance(payload, dict):
            result = workflow_runs.apply_workflow_run(payload)
    except Exception as error:
        webhook_store.record_failure(event, str(error))
        raise
    webhook_store.record_outcome(event, result)
    return result
