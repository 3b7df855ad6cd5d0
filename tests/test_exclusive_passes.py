"""Periodic passes run on one instance at a time (PostgreSQL advisory locks): an instance skips a tick another
instance is running, and runs it once that one let go. On its own PostgreSQL database in both suites."""
import zlib
from datetime import timedelta

import psycopg2

from models import Agent, utcnow
from services.provisioning import healing
from tests.factories import make_agent, make_user
from tests.postgres_support import shared_database  # noqa: F401
from tests.waiting import wait_until


def another_instance_holds(url: str, name: str):
    """A connection of 'another instance' holding the pass's advisory lock."""
    connection = psycopg2.connect(url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute('SELECT pg_advisory_lock(%s)', (zlib.crc32(f'agenthost:{name}'.encode()),))
    return connection


def let_go(connection) -> None:
    """Closes 'the other instance' as one that dies would: its backend lets go of the lock a moment after the
    socket closes, so this waits until the server no longer lists the lock."""
    pid = connection.get_backend_pid()
    url = connection.dsn
    connection.close()
    observer = psycopg2.connect(url)
    observer.autocommit = True  # a transaction would keep showing the same snapshot of the locks
    try:
        with observer.cursor() as cursor:
            wait_until(lambda: holds_no_advisory_lock(cursor, pid), f'backend {pid} to let go of its lock')
    finally:
        observer.close()


def holds_no_advisory_lock(cursor, pid: int) -> bool:
    cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s", (pid,))
    return cursor.fetchone()[0] == 0


def test_a_pass_another_instance_is_running_is_skipped_here_and_runs_once_it_let_go(shared_database: str):
    agent = make_agent(make_user('silent@example.com'), status='running')
    Agent.update(updated_at=utcnow() - timedelta(hours=1)).where(Agent.id == agent.id).execute()
    other = another_instance_holds(shared_database, 'health timeouts')
    try:
        assert healing.mark_unreachable_agents(utcnow() - timedelta(days=1)) == []
        assert Agent.get_by_id(agent.id).health == 'unknown'
    finally:
        let_go(other)
    assert healing.mark_unreachable_agents(utcnow() - timedelta(days=1)) == [agent.id]


def test_two_different_passes_do_not_exclude_each_other(shared_database: str):
    agent = make_agent(make_user('other@example.com'), status='running')
    Agent.update(updated_at=utcnow() - timedelta(hours=1)).where(Agent.id == agent.id).execute()
    other = another_instance_holds(shared_database, 'reaper')
    try:
        assert healing.mark_unreachable_agents(utcnow() - timedelta(days=1)) == [agent.id]
    finally:
        other.close()
