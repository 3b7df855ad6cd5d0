"""A real SMTP server for tests (aiosmtpd on 127.0.0.1, a free port), keeping what it receives.

`smtp_server` requires STARTTLS and a login (user `mailer`, password `mail-secret-1`), with a certificate from a
throwaway CA that `SSL_CERT_FILE` makes trusted; `smtps_server` speaks TLS from the first byte. Both record logins
and point SMTP_URL and MAIL_FROM at themselves:

    from tests.smtp_server import smtp_server  # noqa: F401
"""
import gc
import ssl
import time
import warnings
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope

from tests.stripe_double import free_port

USERNAME = 'mailer'
PASSWORD = 'mail-secret-1'
MAIL_FROM = 'AgentHost <ops@example.com>'


class Mailbox:
    """aiosmtpd handler: accepts every message and keeps it parsed; an exception inside the double is kept and
    fails the test, so a bug here never passes for a dropped connection."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.logins: list[str] = []
        self.errors: list[BaseException] = []

    async def handle_exception(self, error: Exception) -> str:
        self.errors.append(error)
        return f'500 Error in the test double: {error!r}'

    def check(self) -> None:
        if self.errors:
            pytest.fail(f'the SMTP double raised {self.errors[0]!r}', pytrace=False)

    async def handle_DATA(self, server, session, envelope: Envelope) -> str:  # noqa: N802 — aiosmtpd's hook name
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return '250 Message accepted for delivery'

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        accepted = auth_data.login.decode() == USERNAME and auth_data.password.decode() == PASSWORD
        if accepted:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=accepted, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def trusted_ca(tmp_path, monkeypatch) -> trustme.CA:
    """A throwaway CA that ssl.create_default_context() trusts, through SSL_CERT_FILE as an operator would set it."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / 'ca.pem'))
    monkeypatch.setenv('SSL_CERT_FILE', str(tmp_path / 'ca.pem'))
    return ca


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert('127.0.0.1').configure_cert(context)
    return context


def configure(monkeypatch, url: str) -> None:
    monkeypatch.setenv('SMTP_URL', url)
    monkeypatch.setenv('MAIL_FROM', MAIL_FROM)
    from services.platform.settings import Settings, configure
    configure(Settings())


def stop(controller: Controller) -> None:
    """Stop the server now, with any session the app's mailer has not closed yet: the server's side of such a session
    is collected here, quietly, instead of warning as 'unclosed transport' in whichever test the collector runs in."""
    controller.stop()
    del controller
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ResourceWarning)
        gc.collect()


@pytest.fixture
def smtp_server(trusted_ca, monkeypatch) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname='127.0.0.1', port=free_port(), authenticator=mailbox.authenticate,
                            auth_required=True, tls_context=server_context(trusted_ca), require_starttls=True)
    controller.start()
    configure(monkeypatch, f'smtp://{USERNAME}:{PASSWORD}@127.0.0.1:{controller.port}')
    try:
        yield mailbox
    finally:
        stop(controller)
    mailbox.check()


@pytest.fixture
def smtps_server(trusted_ca, monkeypatch) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    # aiosmtpd sees TLS only when it came through STARTTLS: with TLS from the first byte it must be told that AUTH
    # needs no more; then it cannot also insist on AUTH without warning, so the test checks the login happened.
    controller = Controller(mailbox, hostname='127.0.0.1', port=free_port(), authenticator=mailbox.authenticate,
                            auth_require_tls=False, ssl_context=server_context(trusted_ca))
    controller.start()
    configure(monkeypatch, f'smtps://{USERNAME}:{PASSWORD}@127.0.0.1:{controller.port}')
    try:
        yield mailbox
    finally:
        stop(controller)
    mailbox.check()


def wait_for_mail(mailbox: Mailbox, count: int = 1, timeout: float = 10) -> list:
    deadline = time.monotonic() + timeout
    while len(mailbox.messages) < count:
        assert time.monotonic() < deadline, f'expected {count} mail(s), got {len(mailbox.messages)}'
        time.sleep(0.02)
    return mailbox.messages
