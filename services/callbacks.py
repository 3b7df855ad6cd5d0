"""Verifying what the workflow and GitHub send us (spec §6), before `services.provisioning` acts on it.

- Callbacks: `X-AgentHost-Signature: t=<unix>,v1=<hex HMAC-SHA256(CALLBACK_SECRET, "<t>.<raw body>")>`, at most
  300 s old (several `v1` may be sent while a secret is rotated).
- GitHub webhooks: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(GITHUB_WEBHOOK_SECRET, raw body)>`, deduplicated
  on `X-GitHub-Delivery` through the shared webhook store.
Signatures are checked over the raw bytes, in constant time, and nothing is stored for a bad one.
"""
import hashlib
import hmac
import json
import time
import traceback

from models import WebhookDelivery, WebhookEvent, db, utcnow

from . import metrics, provisioning
from .errors import DomainError
from .provisioning import CALLBACK_STATUSES, ProvisioningError, Report
from .settings import get_settings

TOLERANCE_SECONDS = 300
CALLBACK_FIELDS = ('job_id', 'status', 'step', 'message', 'ip_address', 'server_id', 'run_id', 'run_url')


class SignatureError(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__('SIGNATURE_INVALID', message)


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `X-AgentHost-Signature` header for `body` (what `deploy/github/report.py` sends)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f'{timestamp}.'.encode() + body, hashlib.sha256).hexdigest()
    return f't={timestamp},v1={digest}'


def verify_callback_signature(body: bytes, header: str | None, secret: str, *, now: float | None = None) -> None:
    if not header:
        raise SignatureError('The X-AgentHost-Signature header is missing.')
    parts = [part.split('=', 1) for part in header.split(',') if '=' in part]
    timestamps = [value.strip() for key, value in parts if key.strip() == 't']
    signatures = [value.strip() for key, value in parts if key.strip() == 'v1']
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not signatures:
        raise SignatureError('The X-AgentHost-Signature header is malformed; expected t=<unix>,v1=<hex>.')
    now = time.time() if now is None else now
    if abs(now - int(timestamps[0])) > TOLERANCE_SECONDS:
        raise SignatureError(f'The signature is older than {TOLERANCE_SECONDS} s (or from the future); check the '
                             'clock of the sender.')
    expected = hmac.new(secret.encode(), f'{timestamps[0]}.'.encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise SignatureError('The signature does not match; the sender must use the same CALLBACK_SECRET.')


def verify_hub_signature(body: bytes, header: str | None, secret: str) -> None:
    if not header or not header.startswith('sha256='):
        raise SignatureError('The X-Hub-Signature-256 header is missing or malformed.')
    expected = 'sha256=' + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, header.strip()):
        raise SignatureError('The signature does not match; GITHUB_WEBHOOK_SECRET must equal the webhook\'s secret.')


def receive_callback(body: bytes, signature: str | None) -> dict:
    """Verify and apply one callback; answers what happened to the job."""
    secret = get_settings().callback_secret
    if not secret:
        raise ProvisioningError('PROVISIONING_NOT_CONFIGURED', 'CALLBACK_SECRET is not set, so callbacks cannot '
                                                               'be verified.')
    verify_callback_signature(body, signature, secret)
    with metrics.callback_latency.time():
        job, changed = provisioning.apply_report(parse_report(body))
    return {'job_id': job.id, 'status': job.status, 'changed': changed}


def parse_report(body: bytes) -> Report:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DomainError('INVALID_JSON', f'The body is not valid JSON: {error}.') from None
    if not isinstance(data, dict):
        raise DomainError('INVALID_JSON', 'The body must be a JSON object.')
    job_id = data.get('job_id')
    if isinstance(job_id, str) and job_id.isdigit():
        job_id = int(job_id)
    if not isinstance(job_id, int) or isinstance(job_id, bool):
        raise DomainError('INVALID_INPUT', 'job_id must be the job\'s number.', field='job_id')
    if data.get('status') not in CALLBACK_STATUSES:
        raise DomainError('INVALID_INPUT', f'status must be one of {", ".join(CALLBACK_STATUSES)}.', field='status')
    fields = {}
    for name in CALLBACK_FIELDS[2:]:
        value = data.get(name)
        if value is not None and not isinstance(value, (str, int)):
            raise DomainError('INVALID_INPUT', f'{name} must be text.', field=name)
        fields[name] = '' if value is None else str(value)[:2000]
    return Report(job_id=job_id, status=data['status'], **fields)


def receive_github_webhook(body: bytes, headers: dict[str, str]) -> dict:
    """Verify, store once by delivery id, and apply a GitHub webhook delivery (spec §6)."""
    secret = get_settings().github_webhook_secret
    if not secret:
        raise DomainError('WEBHOOK_NOT_CONFIGURED', 'GITHUB_WEBHOOK_SECRET is not set, so GitHub webhooks cannot '
                                                    'be verified.')
    verify_hub_signature(body, headers.get('x-hub-signature-256'), secret)
    delivery = headers.get('x-github-delivery', '').strip()
    kind = headers.get('x-github-event', '').strip()
    if not delivery:
        raise DomainError('INVALID_INPUT', 'The X-GitHub-Delivery header is missing.', field='X-GitHub-Delivery')
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DomainError('INVALID_JSON', f'The body is not valid JSON: {error}.') from None
    logged = {name: value for name, value in headers.items() if name.startswith('x-github') or name == 'user-agent'}
    with db.atomic():
        stored = WebhookEvent.insert(source='github', event_id=delivery, type=kind, payload=body.decode()) \
            .on_conflict_ignore().as_rowcount().execute()
        event = WebhookEvent.get((WebhookEvent.source == 'github') & (WebhookEvent.event_id == delivery))
        retry = not stored and event.status == 'failed'  # a manual redelivery of one that failed: try again
        WebhookDelivery.create(source='github', event_id=delivery, headers=json.dumps(logged),
                               result='received' if stored else ('retried' if retry else 'duplicate'))
    if not stored and not retry:
        return {'received': True, 'duplicate': True}
    return {'received': True, 'result': _apply_github_event(event, kind, payload)}


def reprocess_github_event(event_id: str) -> str:
    """Apply a stored GitHub delivery again (the admin page's Reprocess); returns what it did."""
    event = WebhookEvent.get_or_none((WebhookEvent.source == 'github') & (WebhookEvent.event_id == event_id))
    if event is None:
        raise DomainError('NOT_FOUND', f'No stored GitHub delivery {event_id}.')
    return _apply_github_event(event, event.type, json.loads(event.payload))


def _apply_github_event(event: WebhookEvent, kind: str, payload: object) -> str:
    """Apply a `workflow_run` delivery to its job; a failure is kept with its traceback."""
    result = 'ignored'
    try:
        if kind == 'workflow_run' and isinstance(payload, dict):
            result = provisioning.apply_workflow_run(payload)
    except Exception as error:
        WebhookEvent.update(status='failed', attempts=WebhookEvent.attempts + 1, last_error=str(error),
                            traceback=traceback.format_exc()) \
            .where(WebhookEvent.id == event.id).execute()
        raise
    WebhookEvent.update(status=result, attempts=WebhookEvent.attempts + 1, processed_at=utcnow(), last_error='',
                        traceback='').where(WebhookEvent.id == event.id).execute()
    return result
