"""Live across instances on PostgreSQL: what one instance publishes reaches the browsers, workers and long polls of
every other, through `LISTEN`/`NOTIFY` on one channel — PostgreSQL is the only broker.

Each instance keeps one connection of its own in a thread: it sends this instance's events as `NOTIFY` (after the
commit that caused them, as `events.publish` is called) and hands the others' to `events.received_from_elsewhere`.
An instance hears its own notifications too and skips them by its id. When the connection is lost, the thread
connects again and then makes up for what it may have missed: every agent changed meanwhile is announced here, and
the workers are woken to look at their tables. On SQLite nothing of this runs: there is one instance.
"""
import json
import logging
import queue
import select
import threading
import time
import uuid
from datetime import datetime, timedelta

import psycopg2
import psycopg2.extensions

from models import Agent, utcnow

from . import events

log = logging.getLogger(__name__)

CHANNEL = 'agenthost_events'
PAYLOAD_LIMIT = 7900
"""PostgreSQL refuses payloads from 8,000 bytes; an event's arguments are a few ids."""
POLL_SECONDS = 0.05
RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)
CATCH_UP_MARGIN = timedelta(seconds=5)


class Relay:
    """The listening and notifying connection of this instance, in a thread of its own."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.instance = uuid.uuid4().hex[:16]
        self.outbox: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name='across-instances', daemon=True)
        self.thread.start()
        events.relay_to(self.send)

    def stop(self) -> None:
        events.relay_to(None)
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def send(self, name: str, args: tuple) -> None:
        """From any thread: queue one event for the other instances."""
        payload = json.dumps([self.instance, name, list(args)], separators=(',', ':'), default=str)
        if len(payload) <= PAYLOAD_LIMIT:
            self.outbox.put(payload)

    def run(self) -> None:
        lost_at = None
        attempt = 0
        while not self.stopping.is_set():
            try:
                connection = self.connect()
            except psycopg2.Error as error:
                pause = RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)]
                log.warning('cannot listen for other instances (%s); trying again in %.1f s', error, pause)
                attempt += 1
                self.stopping.wait(pause)
                continue
            attempt = 0
            try:
                if lost_at is not None:
                    catch_up(since=lost_at - CATCH_UP_MARGIN)
                self.connected.set()
                self.serve(connection)
            except (psycopg2.Error, OSError) as error:
                log.warning('lost the connection that hears other instances (%s); connecting again', error)
            finally:
                self.connected.clear()
                lost_at = utcnow()
                connection.close()

    def connect(self) -> psycopg2.extensions.connection:
        connection = psycopg2.connect(self.dsn, application_name='agenthost-events')
        connection.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with connection.cursor() as cursor:
            cursor.execute(f'LISTEN {CHANNEL}')
        return connection

    def serve(self, connection: psycopg2.extensions.connection) -> None:
        while not self.stopping.is_set():
            self.send_waiting(connection)
            if select.select([connection], [], [], POLL_SECONDS)[0]:
                connection.poll()
                while connection.notifies:
                    self.deliver(connection.notifies.pop(0).payload)

    def send_waiting(self, connection: psycopg2.extensions.connection) -> None:
        with connection.cursor() as cursor:
            while True:
                try:
                    payload = self.outbox.get_nowait()
                except queue.Empty:
                    return
                cursor.execute('SELECT pg_notify(%s, %s)', (CHANNEL, payload))

    def deliver(self, payload: str) -> None:
        try:
            instance, name, args = json.loads(payload)
        except (ValueError, TypeError):
            log.warning('ignored a malformed notification on %s', CHANNEL)
            return
        if instance != self.instance:
            events.received_from_elsewhere(name, args)


def catch_up(since: datetime) -> None:
    """After the connection was lost: what changed meanwhile is announced here, and the workers look again."""
    changed = list(Agent.select(Agent.id, Agent.owner).where(Agent.updated_at >= since))
    for agent in changed:
        events.received_from_elsewhere('agent_changed', [agent.owner_id, agent.id])
    events.received_from_elsewhere('stripe_event_stored', [])
    log.info('heard other instances again; announced %s agent(s) changed meanwhile', len(changed))


relay: Relay | None = None


def start(database_url: str) -> None:
    """At start, on PostgreSQL only."""
    global relay  # noqa: PLW0603 — one relay per process, replaced by each start (tests start the app again)
    if not database_url.startswith(('postgres://', 'postgresql://')):
        return
    stop()
    relay = Relay(database_url)
    relay.start()


def stop() -> None:
    global relay  # noqa: PLW0603
    if relay is not None:
        relay.stop()
        relay = None


def wait_until_listening(timeout: float = 10.0) -> bool:
    """For /healthz and tests: whether this instance hears the others (True on SQLite: there are none)."""
    if relay is None:
        return True
    deadline = time.monotonic() + timeout
    return relay.connected.wait(max(0.0, deadline - time.monotonic()))
