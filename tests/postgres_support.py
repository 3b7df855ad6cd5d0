"""A PostgreSQL database of a test's own, for what only PostgreSQL does (several instances, advisory locks): such
tests run in both suites, next to each other in CI, without touching the suite's own database."""
import os
from collections.abc import Iterator

import psycopg2
import pytest

import models

SERVER = os.environ.get('AGENTHOST_TEST_POSTGRES', 'postgresql://postgres@127.0.0.1:5432')
DATABASE = f'agenthost_instances_{os.getpid()}'


def administer(statement: str, *, server: str = SERVER) -> None:
    """One statement on the server's `postgres` database (creating and dropping databases), or a clear error."""
    try:
        connection = psycopg2.connect(f'{server}/postgres', connect_timeout=5)
    except psycopg2.OperationalError as error:
        raise RuntimeError(f'PostgreSQL is needed at {server}, with the right to create databases: '
                           f'{str(error).strip()}') from None
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@pytest.fixture
def shared_database(isolated_environment, monkeypatch) -> Iterator[str]:  # noqa: ARG001  (orders the env first)
    """A fresh PostgreSQL database, opened here and named in DATABASE_URL for the processes the test starts."""
    administer(f'DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)')
    administer(f'CREATE DATABASE {DATABASE}')
    url = f'{SERVER}/{DATABASE}'
    monkeypatch.setenv('DATABASE_URL', url)
    models.db.close()
    models.open_database(url)
    models.migrate()
    try:
        yield url
    finally:
        models.db.close()
        administer(f'DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)')
