"""The one database handle, its connection settings per backend, and the migration runner."""
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeGuard

import peewee
from playhouse.db_url import connect
from playhouse.migrations import Runner

db = peewee.DatabaseProxy()
MIGRATIONS_DIR = Path(__file__).parent / 'migrations'
MAX_ID = 2**63 - 1
"""The largest id both backends store; a larger number in a URL is simply not found."""


def valid_id(value: object) -> TypeGuard[int]:
    """Whether `value` is an id a row can have: an int (not a bool) from 1 to MAX_ID. Checked before any query,
    because PostgreSQL refuses a number past its bigint instead of finding nothing."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def parse_id(value: object) -> int | None:
    """An id from untrusted input (JSON, Stripe metadata, a run's name): a valid int, or ASCII digits naming one;
    None for anything else."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    return value if valid_id(value) else None

# WAL lets page reads run while a webhook writes; the busy timeout makes concurrent writers wait instead of failing.
SQLITE_PRAGMAS = {'journal_mode': 'wal', 'synchronous': 'normal', 'foreign_keys': 1, 'busy_timeout': 5000}


def utcnow() -> datetime:
    """Naive UTC: both backends store it unchanged, and the API adds the `Z` when it serialises."""
    return datetime.now(UTC).replace(tzinfo=None)


class BaseModel(peewee.Model):
    id = peewee.AutoField()
    class Meta:
        database = db
        legacy_table_names = False


def open_database(url: str) -> peewee.Database:
    """Connect the proxy to `url`; SQLite's folder is created so a fresh checkout starts with no manual step.

    PostgreSQL: the libpq inside psycopg2-binary tries GSSAPI encryption first, and its Kerberos library can crash
    the process when threads connect at the same moment (seen: a segmentation fault in `connect` on a worker thread).
    So GSS encryption is off unless the operator asks for it (`PGGSSENCMODE`, or `gssencmode` in DATABASE_URL); every
    connection of the process, the event listener's included, reads it."""
    if url.startswith('sqlite:///'):
        Path(url.removeprefix('sqlite:///')).parent.mkdir(parents=True, exist_ok=True)
        database = connect(url, pragmas=SQLITE_PRAGMAS, timeout=5)
    else:
        os.environ.setdefault('PGGSSENCMODE', 'disable')
        database = connect(url)
    db.initialize(database)
    return database


def migrate() -> list[str]:
    """Apply pending numbered migrations; returns their names (forward-only: there is no `down`)."""
    return Runner(db.obj, str(MIGRATIONS_DIR)).up()


def is_sqlite() -> bool:
    return isinstance(db.obj, peewee.SqliteDatabase)


def write_transaction() -> peewee._atomic:
    """The transaction every writer opens. SQLite's default (deferred) transaction reads first and upgrades to a
    write lock later, and SQLite refuses that upgrade at once with `database is locked` when another writer got in
    between, without waiting out the busy timeout; `BEGIN IMMEDIATE` takes the write lock up front, so writers queue.
    PostgreSQL needs nothing more (rows are locked with FOR UPDATE where it matters)."""
    return db.atomic('IMMEDIATE') if is_sqlite() else db.atomic()


@contextmanager
def exclusive_pass(name: str) -> Iterator[bool]:
    """Whether this process may run the periodic pass `name` now: on PostgreSQL the one instance that takes the
    pass's advisory lock (the others skip this tick; the lock dies with its connection, so a killed instance never
    holds it), on SQLite always (one instance serves a SQLite file)."""
    if is_sqlite():
        yield True
        return
    key = zlib.crc32(f'agenthost:{name}'.encode())
    taken = db.execute_sql('SELECT pg_try_advisory_lock(%s)', (key,)).fetchone()[0]
    try:
        yield bool(taken)
    finally:
        if taken:
            db.execute_sql('SELECT pg_advisory_unlock(%s)', (key,))


def read_transaction() -> peewee._atomic:
    """A read-only transaction: one consistent snapshot for several reads (SQLite's deferred transaction takes no
    write lock, so readers never queue behind writers). Anything that writes opens `write_transaction` instead."""
    return db.atomic()
