"""Email notifications: what happened to an agent or a payment, with a link to the page that shows it.

Mail goes out through `SMTP_URL` — `smtp://user:pass@host:port` (STARTTLS whenever the server offers it) or
`smtps://…` (TLS from the first byte) — from `MAIL_FROM`. Without `SMTP_URL` every function is a no-op, said once at
debug level. Sending runs on a worker thread of its own, so neither the event loop nor the caller waits on a mail
server; a failure is logged (never with the password) instead of raised, because a notification must not break the
operation it reports on. Each function returns the sending's Future, or None when nothing is sent.
"""
import logging
import smtplib
import ssl
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from models import Agent, User

from .logs import redact
from .settings import get_settings

TIMEOUT_SECONDS = 30
DEFAULT_PORTS = {'smtp': 25, 'smtps': 465}
SIGNATURE = '\n\n-- \nAgentHost'

log = logging.getLogger(__name__)
_sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix='mail')  # one at a time: mail servers throttle
_said_disabled = False


@dataclass(frozen=True)
class Mail:
    to: tuple[str, ...]
    subject: str
    body: str


def agent_running(agent: Agent) -> Future | None:
    return _notify(lambda: Mail(
        (agent.owner.email,), f'Your agent "{agent.name}" is running',
        f'Your agent "{agent.name}" is running at {agent.ip_address or "its new server"}.\n\n'
        f'Open it: {_link(f"/agents/{agent.id}")}'))


def agent_failed(agent: Agent, reason: str) -> Future | None:
    return _notify(lambda: Mail(
        (agent.owner.email,), f'Your agent "{agent.name}" failed',
        f'Setting up your agent "{agent.name}" failed:\n\n    {redact(reason)}\n\n'
        f'The agent page shows every step and has a Retry button: {_link(f"/agents/{agent.id}")}'))


def payment_failed(user: User) -> Future | None:
    grace_days = get_settings().billing_grace_days
    return _notify(lambda: Mail(
        (user.email,), 'Your payment failed',
        f'Stripe could not collect your latest payment for AgentHost. Your agents keep running for {grace_days} '
        f'days; after that they are stopped.\n\nUpdate your payment method with "Manage billing": '
        f'{_link("/settings")}'))


def agent_stopped_for_billing(agent: Agent, reason: str) -> Future | None:
    return _notify(lambda: Mail(
        (agent.owner.email,), f'Your agent "{agent.name}" was stopped',
        f'Your agent "{agent.name}" was stopped: {redact(reason)}\n\n'
        f'Choose a plan to deploy it again: {_link("/settings")}\nThe agent: {_link(f"/agents/{agent.id}")}'))


def dispatch_failing(job_description: str, error: str) -> Future | None:
    """To every admin: GitHub refuses or fails our workflow dispatches, which needs a person to look."""
    return _notify(lambda: Mail(
        _admin_emails(), 'AgentHost: dispatching provisioning workflows is failing',
        f'Dispatching {job_description} to GitHub Actions failed:\n\n    {redact(error)}\n\n'
        f'The admin page lists the jobs and the setup checklist: {_link("/admin")}'))


def _admin_emails() -> tuple[str, ...]:
    admins = User.select(User.email).where(User.is_admin & ~User.is_disabled).order_by(User.id)
    return tuple(admin.email for admin in admins)


def _link(path: str) -> str:
    return f'{get_settings().public_url}{path}'


def _notify(compose: Callable[[], Mail]) -> Future | None:
    """Compose here (database reads belong to the caller's thread), send on the mail thread; never raise."""
    global _said_disabled  # noqa: PLW0603
    settings = get_settings()
    if not settings.smtp_url:
        if not _said_disabled:
            log.debug('notifications are off: SMTP_URL is not set')
            _said_disabled = True
        return None
    try:
        mail = compose()
        if not mail.to:
            return None
        return _sender.submit(_deliver, mail, settings.smtp_url, settings.mail_from or _default_sender())
    except Exception:  # noqa: BLE001 — reporting must never break what it reports on
        log.exception('notification not sent: composing it failed')
        return None


def _default_sender() -> str:
    return f'AgentHost <agenthost@{urlsplit(get_settings().public_url).hostname or "localhost"}>'


def _deliver(mail: Mail, smtp_url: str, sender: str) -> bool:
    server = urlsplit(smtp_url)
    where = f'{server.hostname}:{server.port or DEFAULT_PORTS.get(server.scheme, "?")}'  # never the user or password
    try:
        _send(_message(mail, sender), server)
    except Exception as error:  # noqa: BLE001 — on the mail thread nobody else would see it
        log.error('mail not sent: %s: %s', type(error).__name__, error,
                  extra={'smtp_server': where, 'subject': mail.subject})
        return False
    log.info('mail sent', extra={'smtp_server': where, 'subject': mail.subject, 'recipients': len(mail.to)})
    return True


def _message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message['From'] = sender
    message['To'] = ', '.join(mail.to)
    message['Subject'] = mail.subject
    message['Date'] = formatdate(usegmt=True)
    message['Message-ID'] = make_msgid(domain='agenthost')
    message.set_content(mail.body + SIGNATURE)
    return message


def _send(message: EmailMessage, server) -> None:
    host, port = server.hostname, server.port or DEFAULT_PORTS[server.scheme]
    if server.scheme == 'smtps':
        client = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
    with client:
        client.ehlo()
        if server.scheme == 'smtp' and client.has_extn('starttls'):
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if server.username:
            client.login(unquote(server.username), unquote(server.password or ''))
        client.send_message(message)
