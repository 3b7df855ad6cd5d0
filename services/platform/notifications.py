"""Email notifications: what happened to an agent or a payment, with a link to the page that shows it.

Mail goes out through `SMTP_URL` — `smtp://user:pass@host:port` (STARTTLS whenever the server offers it) or
`smtps://…` (TLS from the first byte) — from `MAIL_FROM`. Without `SMTP_URL` every function is a no-op, said once at
debug level. Sending runs on a worker thread of its own, so neither the event loop nor the caller waits on a mail
server; a failure is logged (never with the password) instead of raised, because a notification must not break the
operation it reports on. Each function returns the sending's Future (its result: sent or not), or None when nothing
is sent.
"""
import functools
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


def notification(compose: Callable[..., Mail]) -> Callable[..., Future | None]:
    """Makes a function that composes a Mail one that sends it on the mail thread and returns the Future (None when
    mail is off or there is nobody to tell). Composing runs in the caller's thread, where database reads belong,
    and anything it raises is logged, never passed on."""
    @functools.wraps(compose)
    def send(*args, **kwargs) -> Future | None:
        try:
            settings = get_settings()
            if not settings.smtp_url:
                _say_disabled_once()
                return None
            mail = compose(*args, **kwargs)
            if not mail.to:
                return None
            return _sender.submit(_deliver, mail, settings.smtp_url, settings.mail_from or _default_sender())
        except Exception:
            log.exception('notification not sent: composing it failed')
            return None
    return send


@notification
def agent_running(agent: Agent) -> Mail:
    return _to_owner(agent, 'is running',
                     f'Your agent "{agent.name}" is running at '
                     f'{agent.endpoint_url or agent.ip_address or "its new server"}.\n\n'
                     f'Open it: {_link(f"/agents/{agent.id}")}')


@notification
def agent_unreachable(agent: Agent, minutes: float) -> Mail:
    return _to_owner(agent, 'stopped answering',
                     f'Your agent "{agent.name}" has sent no heartbeat for {_minutes(minutes)}, so it may not be '
                     f'answering its API.\n\nAgentHost provisions it again by itself if it stays silent. The agent '
                     f'page shows its health and its log: {_link(f"/agents/{agent.id}")}')


@notification
def agent_recovered(agent: Agent) -> Mail:
    return _to_owner(agent, 'answers again',
                     f'Your agent "{agent.name}" is sending heartbeats again, so it is back.\n\n'
                     f'Open it: {_link(f"/agents/{agent.id}")}')


@notification
def agent_failed(agent: Agent, reason: str) -> Mail:
    return _to_owner(agent, 'failed',
                     f'Setting up your agent "{agent.name}" failed:\n\n    {redact(reason)}\n\n'
                     f'The agent page shows every step and has a Retry button: {_link(f"/agents/{agent.id}")}')


@notification
def agent_stopped_for_billing(agent: Agent, reason: str) -> Mail:
    return _to_owner(agent, 'was stopped',
                     f'Your agent "{agent.name}" was stopped: {redact(reason)}\n\n'
                     f'Choose a plan to deploy it again: {_link("/settings")}\n'
                     f'The agent: {_link(f"/agents/{agent.id}")}')


@notification
def payment_failed(user: User) -> Mail:
    return Mail((user.email,), 'Your payment failed',
                f'Stripe could not collect your latest payment for AgentHost. Your agents keep running for '
                f'{get_settings().billing_grace_days} days; after that they are stopped.\n\n'
                f'Update your payment method with "Manage billing": {_link("/settings")}')


@notification
def dispatch_failing(job_description: str, error: str) -> Mail:
    """To every admin: GitHub refuses or fails our workflow dispatches, which needs a person to look."""
    return Mail(_admin_emails(), 'AgentHost: dispatching provisioning workflows is failing',
                f'Dispatching {job_description} to GitHub Actions failed:\n\n    {redact(error)}\n\n'
                f'The admin page lists the jobs and the setup checklist: {_link("/admin")}')


def _minutes(minutes: float) -> str:
    return f'{minutes:g} minute{"" if minutes == 1 else "s"}' if minutes >= 1 else f'{minutes * 60:.0f} seconds'


def _to_owner(agent: Agent, what: str, body: str) -> Mail:
    return Mail((agent.owner.email,), f'Your agent "{agent.name}" {what}', body)


def _admin_emails() -> tuple[str, ...]:
    admins = User.select(User.email).where(User.is_admin & ~User.is_disabled).order_by(User.id)
    return tuple(admin.email for admin in admins)


def _link(path: str) -> str:
    return f'{get_settings().public_url}{path}'


def _say_disabled_once() -> None:
    global _said_disabled  # noqa: PLW0603
    if not _said_disabled:
        log.debug('notifications are off: SMTP_URL is not set')
        _said_disabled = True


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
    client: smtplib.SMTP
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
