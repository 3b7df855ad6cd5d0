"""SQLite serves one AgentHost at a time: a second `serve` on the same database file refuses to start.

Two processes on one SQLite file would each run the dispatcher, the Stripe worker, the reaper and the health pass
as if alone, and each would tell only its own browsers about changes. PostgreSQL is how AgentHost runs as several
instances. The guard is an exclusive `flock` on `<database>.serving`, which the kernel releases when the process
ends however it ends (SIGKILL included), so a crash never leaves a stale lock behind. The command-line tools
(`users create`, `migrate`, …) do not serve and take no lock.
"""
import fcntl
import os
from pathlib import Path
from typing import TextIO

from .errors import DomainError


class Held:
    """The lock file this process holds open (closing it lets go of the lock)."""
    handle: TextIO | None = None


def hold_the_database(database_file: str | None) -> None:
    """Serve alone on this SQLite file, or refuse with who serves it and what to do instead (None: not SQLite, or
    in memory: nothing to guard)."""
    if not database_file or database_file == ':memory:':
        return
    path = Path(f'{database_file}.serving')
    handle = path.open('a+')
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or 'unknown'
        handle.close()
        raise DomainError('ALREADY_SERVING', f'Another AgentHost (process {holder}) already serves the SQLite '
                                             f'database {database_file}. SQLite serves one instance at a time: stop '
                                             'that one first, or move to PostgreSQL (DATABASE_URL=postgresql://…) '
                                             'to run several instances side by side.') from None
    handle.seek(0)
    handle.truncate()
    handle.write(f'{os.getpid()}\n')
    handle.flush()
    if Held.handle is not None:
        Held.handle.close()  # the previous database this process served (tests serve a new one each)
    Held.handle = handle
