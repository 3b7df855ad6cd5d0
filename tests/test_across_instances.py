"""The relay between instances (LISTEN/NOTIFY): what one instance publishes reaches another, never comes back to
itself, and after a lost connection the listener connects again and announces what changed meanwhile. Real
PostgreSQL, on a database of the test's own (both suites)."""
import threading
from collections.abc import Iterator

import psycopg2
import pytest

from services.platform import across_instances, events
from tests.factories import make_agent, make_user
from tests.postgres_support import shared_database  # noqa: F401
from tests.waiting import wait_until


class Heard:
    def __init__(self) -> None:
        self.events: list[tuple[str, list]] = []
        self.lock = threading.Lock()

    def __call__(self, name: str, args: list) -> None:
        with self.lock:
            self.events.append((name, list(args)))

    def has(self, name: str, args: list) -> bool:
        with self.lock:
            return (name, args) in self.events


@pytest.fixture
def heard(monkeypatch) -> Heard:
    recorder = Heard()
    monkeypatch.setattr(events, 'received_from_elsewhere', recorder)
    return recorder


@pytest.fixture
def two_relays(shared_database: str) -> Iterator[tuple[across_instances.Relay, across_instances.Relay]]:
    relays = (across_instances.Relay(shared_database), across_instances.Relay(shared_database))
    for relay in relays:
        relay.thread = threading.Thread(target=relay.run, daemon=True)
        relay.thread.start()
        assert relay.connected.wait(10)
    yield relays
    for relay in relays:
        relay.stop()


def test_an_event_published_on_one_instance_is_heard_on_the_other_and_not_echoed(two_relays, heard: Heard):
    sender, listener = two_relays
    sender.send('agent_changed', (7, 42))
    wait_until(lambda: heard.has('agent_changed', [7, 42]), 'the other instance to hear it')
    listener.send('job_ready', (9,))  # committed after the first, so the sender has seen its own copy before this
    wait_until(lambda: heard.has('job_ready', [9]), 'the sender to hear the answer')
    assert heard.events.count(('agent_changed', [7, 42])) == 1


def test_after_a_lost_connection_the_listener_comes_back_and_announces_what_changed(two_relays, heard: Heard,
                                                                                      shared_database: str):
    sender, listener = two_relays
    agent = make_agent(make_user('meanwhile@example.com'))
    admin = psycopg2.connect(shared_database)
    admin.autocommit = True
    with admin.cursor() as cursor:  # what a network cut or a PostgreSQL restart does to the listening connection
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
                       "'agenthost-events' AND datname = current_database() AND pid <> pg_backend_pid()")
    admin.close()
    wait_until(lambda: heard.has('agent_changed', [agent.owner_id, agent.id]), 'the catch-up after reconnecting')
    wait_until(listener.connected.is_set, 'the listener to be connected again')
    wait_until(sender.connected.is_set, 'the sender to be connected again')
    sender.send('job_ready', (5,))
    wait_until(lambda: heard.has('job_ready', [5]), 'events to flow again')
