import importlib.machinery
import sys
import types

from nicegui.testing import User

from models.database import MIGRATIONS_DIR
from services.platform import health
from tests.factories import make_user
from tests.pages_support import log_in, log_in_as_admin


def fake_scheduler(monkeypatch, running: bool) -> None:
    module = types.ModuleType('services.provisioning.scheduler')
    module.__spec__ = importlib.machinery.ModuleSpec('services.provisioning.scheduler', None)
    module.is_running = lambda: running
    monkeypatch.setitem(sys.modules, 'services.provisioning.scheduler', module)


async def test_a_signed_in_non_admin_sees_only_ok(user: User):
    make_user('first-is-admin@example.com')
    await log_in(user, 'plain@example.com')
    response = await user.http_client.get('/healthz')
    assert response.json() == {'status': 'ok'}


async def test_an_admin_sees_the_database_backend_and_migrations(user: User):
    await log_in_as_admin(user)
    response = await user.http_client.get('/healthz')
    body = response.json()
    assert response.status_code == 200 and body['status'] == 'ok'
    assert body['database']['backend'] == ('sqlite' if health.is_sqlite() else 'postgresql')
    assert body['database']['migrations_applied'] == sorted(path.stem for path in MIGRATIONS_DIR.glob('[0-9]*.py'))
    assert body['database']['migrations_pending'] == []


async def test_an_admin_sees_whether_the_scheduler_runs_when_there_is_one(monkeypatch, user: User):
    fake_scheduler(monkeypatch, running=False)
    await log_in_as_admin(user)
    assert (await user.http_client.get('/healthz')).json()['scheduler'] == {'running': False}


def test_without_a_scheduler_module_the_key_is_left_out(monkeypatch):
    monkeypatch.setattr(health.importlib.util, 'find_spec', lambda name: None)
    assert 'scheduler' not in health.details()


async def test_an_unreachable_database_answers_503(monkeypatch, user: User):
    monkeypatch.setattr(health, 'database_problem', lambda: 'database unreachable: connection refused')
    response = await user.http_client.get('/healthz')
    assert response.status_code == 503
    assert response.json() == {'status': 'error', 'database': 'database unreachable: connection refused'}
