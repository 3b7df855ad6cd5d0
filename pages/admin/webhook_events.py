"""Recent Stripe and GitHub webhook events, with Reprocess for each."""
from nicegui import run, ui

from models import EventStatus, User, WebhookEvent
from services.operator import admin

from ..frame import guarded
from .listed import ListedSection

EVENT_COLORS: dict[str, str] = {EventStatus.PROCESSED: 'positive',
                                EventStatus.FAILED: 'negative', EventStatus.IGNORED: 'grey'}


class WebhookEvents(ListedSection):
    title = 'Webhook events'
    empty = 'No webhook events yet.'

    def __init__(self, user: User) -> None:
        self.reprocess = guarded(user, admin=True)(self.reprocess_event)
        super().__init__()

    def read(self) -> list[WebhookEvent]:
        return admin.recent_webhook_events()

    def draw_row(self, event: WebhookEvent) -> None:
        with ui.row().classes('items-center gap-3 w-full').mark(f'event-{event.event_id}'):
            ui.label(f'{event.received_at:%Y-%m-%d %H:%M:%S}').classes('text-sm font-mono')
            ui.label(event.source).classes('w-16')
            ui.label(event.type).classes('w-64')
            ui.badge(event.status, color=EVENT_COLORS.get(event.status, 'blue'))
            ui.label(event.last_error).classes('text-negative text-sm flex-1')
            ui.button('Reprocess', on_click=lambda: self.reprocess(event.source, event.event_id)) \
                .props('flat dense').mark(f'reprocess-{event.event_id}')

    async def reprocess_event(self, source: str, event_id: str) -> None:
        try:
            status = await run.io_bound(admin.reprocess_event, source, event_id)
        except Exception as problem:  # noqa: BLE001 — the failure is stored with its traceback; say it here
            ui.notify(f'{event_id} failed again: {getattr(problem, "message", problem)}', type='negative')
        else:
            ui.notify(f'{event_id}: {status}')
        await self.show()
