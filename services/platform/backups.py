"""Online backups of the SQLite database, taken while the app keeps serving.

SQLite's backup API copies the database page by page from one read snapshot, so the copy is consistent even while
the app writes (a plain `cp` of a WAL database can catch it half-way). The copy is written next to the target and
renamed into place, so a failed backup never leaves a half-written file under the backup's name. PostgreSQL has its
own tool for this, `pg_dump`, and the command says so instead of pretending.
"""
import os
import sqlite3
from pathlib import Path

from .errors import DomainError

PG_DUMP_ADVICE = ('DATABASE_URL points at PostgreSQL, which this command does not copy: back it up with pg_dump, '
                  'e.g. `pg_dump --format=custom --file=agenthost.dump "$DATABASE_URL"`, and restore it with '
                  'pg_restore.')


class BackupError(DomainError):
    pass


def backup(*, database_url: str, target: Path) -> int:
    """Copy the database at `database_url` to `target`; returns the size of the copy in bytes."""
    if not database_url.startswith('sqlite:///'):
        raise BackupError('UNSUPPORTED_BACKEND', PG_DUMP_ADVICE)
    source_path = Path(database_url.removeprefix('sqlite:///'))
    if not source_path.is_file():
        raise BackupError('NOT_FOUND', f'There is no database at {source_path}: check DATABASE_URL or --data-dir.')
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f'.{target.name}.partial')
    partial.unlink(missing_ok=True)
    try:
        _copy(source_path, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size


def _copy(source_path: Path, target_path: Path) -> None:
    source = sqlite3.connect(source_path, timeout=30)
    target = sqlite3.connect(target_path)
    try:
        source.backup(target)  # all pages in one step: one consistent snapshot
        target.execute('PRAGMA journal_mode=DELETE')  # the copy is one self-contained file, not file + -wal
        problem = target.execute('PRAGMA quick_check').fetchone()[0]
        if problem != 'ok':
            raise BackupError('BACKUP_CORRUPT', f'The copy failed its integrity check: {problem}')
    finally:
        target.close()
        source.close()
