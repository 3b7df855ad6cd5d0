"""`/admin`: setup checklist, accounts with comp grants, usage by model, jobs, and webhook events with Reprocess
(admins only).

Each section is a module of this package, listed once in `SECTIONS`: a class built inside the page's frame with
the signed-in admin, whose `show()` (re)reads what it lists.
"""
from collections.abc import Callable
from typing import Protocol

from nicegui import ui

from models import User

from ..frame import frame, signed_in_user
from .accounts import Accounts
from .checklist import Checklist
from .jobs import Jobs
from .usage import Usage
from .webhook_events import WebhookEvents


class Section(Protocol):
    calls_out: bool
    """True when `show` calls Stripe or GitHub: it runs once the page has answered."""

    async def show(self) -> None:
        """(Re)read what the section lists and draw it."""


SECTIONS: tuple[Callable[[User], Section], ...] = (Checklist, Accounts, Usage, Jobs, WebhookEvents)
"""The page's sections, top to bottom."""


@ui.page('/admin')
async def admin_page() -> None:
    user = await signed_in_user(admin=True)
    if user is None:
        return
    with frame('Admin', user):
        sections = [section(user) for section in SECTIONS]
    for section in sections:
        if not section.calls_out:
            await section.show()
    await ui.context.client.connected()  # answer the page before calling Stripe and GitHub
    for section in sections:
        if section.calls_out:
            await section.show()
