"""AgentHost: the one composition root (settings → database → routes → middleware → pages) and the command line.

NiceGUI's test fixtures run this file again for every test, so everything that registers routes, middleware or
startup hooks lives here and nowhere else.
"""
import argparse
import getpass
import logging
import multiprocessing
import os
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

from services.platform import logs
from services.platform.settings import Settings, SettingsError, configure, load_settings

CODE_DIR = Path(__file__).resolve().parent  # inside a single binary: the folder it unpacked itself into
DATA_DIR_HELP = 'folder for the SQLite database, storage secret and NiceGUI storage (sets DATA_DIR; default ./data)'
RUN_AS_COMMAND = __name__ in {'__main__', '__mp_main__'} and not os.environ.get('NICEGUI_USER_SIMULATION')
log = logging.getLogger('agenthost')


def apply_data_dir_option(argv: list[str]) -> None:
    """`--data-dir` may stand anywhere on the command line, but it must become DATA_DIR before the settings are read
    and before NiceGUI is imported (NiceGUI takes its storage path from the environment on import)."""
    early = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    early.add_argument('--data-dir')
    known, _ = early.parse_known_args(argv)
    if known.data_dir:
        os.environ['DATA_DIR'] = known.data_dir


def read_settings() -> Settings:
    try:
        return configure(load_settings())
    except SettingsError as error:
        sys.exit(f'{error}\nFix the variable in the environment or in .env, then start again.')


if RUN_AS_COMMAND:
    apply_data_dir_option(sys.argv[1:])
settings = read_settings()
os.environ.setdefault('NICEGUI_STORAGE_PATH', str((settings.data_dir / '.nicegui').resolve()))  # read on import

from nicegui import app, ui  # noqa: E402

import models  # noqa: E402
import pages.wizard  # noqa: E402  /agents/new (before /agents/{agent_id}, which would claim it)

# isort: split
import pages.admin  # noqa: E402  /admin
import pages.agent_detail  # noqa: E402  /agents/{agent_id}
import pages.agents  # noqa: E402  /
import pages.auth  # noqa: E402  /login, /signup, /logout
import pages.checkout_return  # noqa: E402  /billing/return
import pages.settings  # noqa: E402  /settings
from api import agent_chat as agent_chat_api  # noqa: E402
from api import agent_keys as agent_keys_api  # noqa: E402
from api import agent_logs as agent_logs_api  # noqa: E402
from api import agents as agents_api  # noqa: E402
from api import auth as auth_api  # noqa: E402
from api import billing as billing_api  # noqa: E402
from api import docs as docs_api  # noqa: E402
from api import errors as api_errors  # noqa: E402
from api import fast_lane, server_limits  # noqa: E402
from api import github_webhook as github_webhook_api  # noqa: E402
from api import health as health_api  # noqa: E402
from api import metrics as metrics_api  # noqa: E402
from api import provisioning as provisioning_api  # noqa: E402
from api import runtime as runtime_api  # noqa: E402
from api import stripe_webhook as stripe_webhook_api  # noqa: E402
from api.request_ids import RequestIds  # noqa: E402
from api.request_limits import BodySizeLimit  # noqa: E402
from api.security_headers import SecurityHeaders  # noqa: E402
from services.accounts import accounts  # noqa: E402
from services.billing import billing, stripe_webhooks, stripe_worker  # noqa: E402
from services.platform import across_instances, backups, garbage, loop_lag, single_instance  # noqa: E402
from services.platform.errors import DomainError  # noqa: E402
from services.provisioning import local as local_provisioner  # noqa: E402
from services.provisioning import scheduler as provisioning_scheduler  # noqa: E402
from services.runtime import config as runtime_config  # noqa: E402

app.include_router(health_api.router)  # GET /healthz
app.include_router(metrics_api.router)  # GET /metrics
app.include_router(auth_api.router)  # POST /api/auth/token
app.include_router(pages.auth.router)  # GET /login/complete, POST /logout: they give the browser a new session id
app.include_router(agents_api.router)  # /api/agents…
app.include_router(agent_keys_api.router)  # /api/agents/{id}/keys…
app.include_router(agent_chat_api.router)  # POST /api/agents/{id}/chat
app.include_router(agent_logs_api.router)  # GET /api/agents/{id}/logs
app.include_router(billing_api.router)  # GET /api/billing, POST /api/billing/checkout, POST /api/billing/portal
app.include_router(stripe_webhook_api.router)  # POST /api/webhooks/stripe
app.include_router(github_webhook_api.router)  # POST /api/webhooks/github
app.include_router(provisioning_api.router)  # POST /api/provisioning/callback, POST /api/provisioning/bootstrap
app.include_router(runtime_api.router)  # GET /api/runtime/config, POST /api/runtime/heartbeat, POST /api/runtime/logs
app.include_router(docs_api.router)  # GET /openapi.json, /docs
app.add_static_files(docs_api.ASSETS_PATH, docs_api.ASSETS_FOLDER)  # Swagger UI's own files, for /docs
app.include_router(api_errors.fallback)  # any other /api path: 404 in the API's error shape
api_errors.install(app)  # domain errors → HTTP status and {"error": {...}}
app.add_middleware(auth_api.AuthMiddleware)  # pages → /login, /api/* → 401 without credentials
app.add_middleware(BodySizeLimit)  # 413 for bodies over 1 MiB, before they are read
app.on_startup(provisioning_scheduler.start)  # dispatcher: reconcile at start, due retries, reaper
app.on_shutdown(provisioning_scheduler.shutdown)
app.on_startup(local_provisioner.start)  # PROVISIONER=local: running agents' runtimes start again
app.on_shutdown(local_provisioner.shutdown)  # and none outlives AgentHost
app.on_startup(runtime_config.start)  # a saved config revision wakes the runtime's long poll at once
app.on_startup(lambda: across_instances.start(settings.resolved_database_url))  # PostgreSQL: LISTEN/NOTIFY
app.on_shutdown(across_instances.stop)  # … so every instance's browsers and workers hear every change
app.on_startup(loop_lag.monitor.start)  # agenthost_event_loop_lag_max_seconds on /metrics
app.on_shutdown(loop_lag.monitor.shutdown)
app.on_startup(stripe_worker.worker.start)  # Stripe events: processed after the answer, retried, survive restarts
app.on_shutdown(stripe_worker.worker.shutdown)
app.add_middleware(SecurityHeaders)  # CSP, nosniff, frame and referrer policy, HSTS when PUBLIC_URL is https
app.add_middleware(RequestIds)  # outermost: X-Request-ID on every response, request id on every log line
fast_lane.install(app, machine_middleware=(BodySizeLimit, SecurityHeaders, RequestIds))  # no browser session
app._telemetry.update({'tracing': False, 'metrics': False, 'logs': False})  # no OpenTelemetry: no look per request
app.on_startup(logs.carry_context_into_threads)  # run.io_bound work logs the request id of its request
logs.limit_browser_logs()  # socket.io `log` event from any page: truncated and rate-limited
STATIC_DIR = str(CODE_DIR / 'static')
app.add_static_files('/static', STATIC_DIR)  # /static/…


def open_database() -> list[str]:
    """Connect and bring the schema up to date; returns the migrations it applied."""
    models.open_database(settings.resolved_database_url)
    return models.migrate()


def serve() -> None:
    open_database()
    single_instance.hold_the_database(models.db.database if models.is_sqlite() else None)
    app.on_startup(garbage.tune)  # last, and only when serving: long-lived pages, fewer and shorter GC pauses
    storage_secret = settings.session_secret()
    logs.remember_secret(storage_secret)
    log.info('serving', extra={'url': f'http://{settings.host}:{settings.port}', 'data_dir': str(settings.data_dir)})
    # log_config=None: uvicorn keeps out of logging, so its lines pass through our redacting handler;
    # access_log=False: RequestIds writes the access line, with the request id and without the query string.
    # http=: uvicorn's httptools protocol with a 64 KiB header limit (431) and HEADER_TIMEOUT_SECONDS to send them.
    ui.run(host=settings.host, port=settings.port, title='AgentHost', storage_secret=storage_secret,
           reload=False, show=False, favicon=os.path.join(STATIC_DIR, 'favicon.svg'), log_config=None,
           access_log=False, session_middleware_kwargs=session_cookie_options(),
           http=server_limits.protocol(header_timeout_seconds=settings.header_timeout_seconds), timeout_keep_alive=5)


def session_cookie_options() -> dict:
    """The session cookie travels only over https when the app is served over https."""
    return {'https_only': settings.public_url.startswith('https://')}


def create_user_command(args: argparse.Namespace) -> None:
    open_database()
    user = accounts.create_user(email=args.email, password=args.password, is_admin=args.admin)
    print(user.id)


def enable_user_command(args: argparse.Namespace) -> None:
    open_database()
    user = accounts.enable_user(args.email)
    print(f'enabled {user.email}')


def set_admin_command(args: argparse.Namespace) -> None:
    open_database()
    user = accounts.set_admin(args.email, is_admin=not args.revoke)
    print(f'{user.email} is {"an admin" if user.is_admin else "no longer an admin"}')


def create_token_command(args: argparse.Namespace) -> None:
    open_database()
    user = accounts.find_user(args.email)
    print(accounts.create_token(user=user, name=args.name))


def grant_command(args: argparse.Namespace) -> None:
    open_database()
    until = datetime.combine(args.until + timedelta(days=1), datetime.min.time()) if args.until else None
    grant = billing.grant_complimentary(user=accounts.find_user(args.email), plan=args.plan, until=until,
                                        granted_by=f'cli:{getpass.getuser()}')
    print(f'granted {grant.plan} to {args.email} ' + (f'until the end of {args.until}' if until else 'without end'))


def stripe_sync_command(_: argparse.Namespace) -> None:
    open_database()
    print(f'synced {billing.sync_all()} subscription(s) from Stripe')


def stripe_reprocess_command(args: argparse.Namespace) -> None:
    open_database()
    results = stripe_webhooks.reprocess_failed() if args.failed else {args.id: stripe_webhooks.reprocess(args.id)}
    for event_id, status in results.items():
        print(f'{event_id}: {status}')
    print(f'reprocessed {len(results)} event(s)')


def backup_command(args: argparse.Namespace) -> None:
    size = backups.backup(database_url=settings.resolved_database_url, target=Path(args.path))
    print(f'backed up {settings.resolved_database_url.removeprefix("sqlite:///")} to {args.path} ({size} bytes)')


def migrate_command(_: argparse.Namespace) -> None:
    applied = open_database()
    print(f'applied {len(applied)} migration(s)' + (f': {", ".join(applied)}' if applied else ''))


def command_line() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--data-dir', default=argparse.SUPPRESS, help=DATA_DIR_HELP)  # applied before parsing
    parser = argparse.ArgumentParser(prog='agenthost', description='Sell and run hosted AI agents.', parents=[common])
    commands = parser.add_subparsers(dest='command')
    commands.add_parser('serve', help='serve the web app (the default)', parents=[common]) \
        .set_defaults(run=lambda _: serve())
    commands.add_parser('migrate', help='apply database migrations', parents=[common]).set_defaults(run=migrate_command)
    backup = commands.add_parser('backup', help='copy the SQLite database consistently while the app runs',
                                 parents=[common])
    backup.add_argument('path', help='file to write the copy to (replaced if it exists)')
    backup.set_defaults(run=backup_command)

    users = commands.add_parser('users', help='manage accounts').add_subparsers(dest='action', required=True)
    create_user = users.add_parser('create', help='create an account; prints its id', parents=[common])
    create_user.add_argument('--email', required=True)
    create_user.add_argument('--password', required=True)
    create_user.add_argument('--admin', action='store_true')
    create_user.set_defaults(run=create_user_command)
    enable_user = users.add_parser('enable', help='enable a disabled account', parents=[common])
    enable_user.add_argument('--email', required=True)
    enable_user.set_defaults(run=enable_user_command)
    set_admin = users.add_parser('set-admin', help='make an account an admin (or, with --revoke, no longer one)',
                                 parents=[common])
    set_admin.add_argument('--email', required=True)
    set_admin.add_argument('--revoke', action='store_true', help='remove admin rights instead')
    set_admin.set_defaults(run=set_admin_command)

    tokens = commands.add_parser('tokens', help='manage API tokens').add_subparsers(dest='action', required=True)
    create_token = tokens.add_parser('create', help='create an API token; prints it as the last line',
                                     parents=[common])
    create_token.add_argument('--email', required=True)
    create_token.add_argument('--name', default='')
    create_token.set_defaults(run=create_token_command)

    billing_commands = commands.add_parser('billing', help='entitlements').add_subparsers(dest='action', required=True)
    grant = billing_commands.add_parser('grant', help='a complimentary entitlement, recorded with who and when',
                                        parents=[common])
    grant.add_argument('--email', required=True)
    grant.add_argument('--plan', required=True)
    grant.add_argument('--until', type=date.fromisoformat, help='last day of the grant (YYYY-MM-DD, UTC)')
    grant.set_defaults(run=grant_command)

    stripe = commands.add_parser('stripe', help='Stripe operations').add_subparsers(dest='action', required=True)
    stripe.add_parser('sync', help="re-read customers' subscriptions from Stripe", parents=[common]) \
        .set_defaults(run=stripe_sync_command)
    reprocess = stripe.add_parser('reprocess', help='process stored Stripe events again', parents=[common])
    which = reprocess.add_mutually_exclusive_group(required=True)
    which.add_argument('--failed', action='store_true', help='every event whose processing failed')
    which.add_argument('--id', help='one event id (evt_…)')
    reprocess.set_defaults(run=stripe_reprocess_command)
    return parser


def main(argv: list[str]) -> None:
    args = command_line().parse_args(argv)
    logs.configure_logging(settings)
    try:
        getattr(args, 'run', lambda _: serve())(args)
    except DomainError as error:
        sys.exit(f'error: {error.message}')


if __name__ in {'__main__', '__mp_main__'}:
    if os.environ.get('NICEGUI_USER_SIMULATION'):
        serve()  # NiceGUI's User fixture runs this file; its argv belongs to pytest
    else:
        multiprocessing.freeze_support()  # the single binary's spawned worker processes start here; else a no-op
        main(sys.argv[1:])
