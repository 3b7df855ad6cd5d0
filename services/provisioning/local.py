"""`PROVISIONER=local`: the dispatcher hands a claimed job here instead of GitHub, and it is done on this machine.

A provision starts the agent's runtime as a child process on 127.0.0.1; a deprovision ends it. Each step is
reported through `reports.apply_report`, the path the workflow's callbacks take, so states, steps, the timeline,
Stop, Delete, Cancel and Retry behave as they do for a server. A local agent is marked by `server_id` `local`: when
AgentHost starts again, its running local agents are started again, with a new token and a new port.
"""
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from models import Agent, AgentStatus, JobKind, JobStatus, ProvisioningJob, db, write_transaction

from ..platform.settings import get_settings
from ..runtime import tokens
from . import reports
from .jobs import announce, last_job, record_event
from .local_runtimes import LocalRuntime, RuntimeStartError, Supervisor
from .reports import Report

log = logging.getLogger('services.provisioning')

LOCAL_SERVER_ID = 'local'
LOCAL_ADDRESS = '127.0.0.1'
WILDCARD_HOSTS = ('', '0.0.0.0', '::', 'localhost')

supervisor = Supervisor()


def is_local() -> bool:
    return get_settings().provisioner_kind == 'local'


def agenthost_url() -> str:
    """How a child reaches AgentHost: over loopback on AgentHost's own port (PUBLIC_URL may be a public proxy)."""
    settings = get_settings()
    host = LOCAL_ADDRESS if settings.host in WILDCARD_HOSTS else settings.host
    return f'http://{f"[{host}]" if ":" in host else host}:{settings.port}'


def record_endpoint(agent_id: int, url: str | None) -> None:
    """Where the local agent's runtime answers (its `endpoint_url`), or None once it is gone."""
    with write_transaction():
        Agent.update(endpoint_url=url).where(Agent.id == agent_id).execute()


def start_runtime(agent_id: int, job_id: int, *, restart: bool = False) -> LocalRuntime:
    """Start the agent's runtime with a token of its own (AgentHost mints it here: no bootstrap call is needed on
    this machine); a restart's token is the only valid one at once, since the earlier process is gone."""
    token = tokens.mint(agent_id, job_id, only=restart)
    return supervisor.start(agent_id, agenthost_url=agenthost_url(), token=token,
                            log_dir=(get_settings().data_dir / 'runtimes').resolve())


# --- the dispatcher's hooks -------------------------------------------------------------------------------------------

def carry_out(job: ProvisioningJob) -> None:
    """Do a claimed job on this machine, reporting each step the way the workflow's callbacks do."""
    if job.kind == JobKind.PROVISION:
        _provision(job)
    else:
        _deprovision(job)


def settle_cancelled(job: ProvisioningJob) -> None:
    """A cancelled local job has no run elsewhere: the removal queued with the cancel ends any process."""
    with write_transaction():
        if ProvisioningJob.update(cancel_run=False).where((ProvisioningJob.id == job.id)
                                                          & (ProvisioningJob.cancel_run == True)).execute():  # noqa: E712
            record_event(job.id, 'run_cancelled', 'The agent ran on this machine, so nothing runs elsewhere to cancel.')
    announce(Agent.get_by_id(job.agent_id), job)


def _provision(job: ProvisioningJob) -> None:
    _report(job.id, JobStatus.IN_PROGRESS, 'dispatched',
            f'Starting the agent on this machine (attempt {job.attempts}).')
    # 'progress' is a callback status only (a step that leaves the job's status alone): no enum owns it
    _report(job.id, 'progress', 'agent_starting', f'Starting its runtime as a process on {LOCAL_ADDRESS}.')
    try:
        runtime = start_runtime(job.agent_id, job.id)
    except RuntimeStartError as error:
        _report(job.id, JobStatus.FAILED, '', str(error))
        return
    record_endpoint(job.agent_id, runtime.url)
    finished = _report(job.id, JobStatus.SUCCEEDED, 'running',
                       f'The agent runs on this machine: its runtime answers at {runtime.url} (process '
                       f'{runtime.pid}, output in {runtime.log_path}).', ip_address=LOCAL_ADDRESS,
                       server_id=LOCAL_SERVER_ID)
    if finished.status != JobStatus.SUCCEEDED:  # stopped, deleted or cancelled while the runtime started
        supervisor.stop(job.agent_id)
        record_endpoint(job.agent_id, None)


def _deprovision(job: ProvisioningJob) -> None:
    _report(job.id, JobStatus.IN_PROGRESS, 'dispatched',
            f'Stopping the agent on this machine (attempt {job.attempts}).')
    stopped = supervisor.stop(job.agent_id)
    record_endpoint(job.agent_id, None)
    _report(job.id, JobStatus.SUCCEEDED, 'server_deleted',
            f'Its runtime process {stopped.pid} ended; port {stopped.port} is closed.' if stopped else
            'No runtime of this agent was running on this machine.')


def _report(job_id: int, status: str, step: str, message: str, **fields: str) -> ProvisioningJob:
    job, _ = reports.apply_report(Report(job_id=job_id, status=status, step=step, message=message, **fields))
    return job


# --- AgentHost starting and stopping, and runtimes that die ------------------------------------------------------

def start() -> None:
    """At AgentHost's start: its running local agents are started again, in a thread (each waits for /healthz)."""
    agent_ids = agents_to_restart()
    if agent_ids:
        threading.Thread(target=in_own_connection, args=(restart_agents, agent_ids), name='runtime-restarts',
                         daemon=True).start()


def shutdown() -> None:
    """At AgentHost's exit: no runtime outlives it (they start again with it)."""
    supervisor.shutdown()


def agents_to_restart() -> list[int]:
    if not is_local():
        return []
    query = Agent.select(Agent.id).where((Agent.status == AgentStatus.RUNNING)
                                         & (Agent.server_id == LOCAL_SERVER_ID))
    return [agent.id for agent in query.order_by(Agent.id) if supervisor.get(agent.id) is None]


def restart_agents(agent_ids: list[int]) -> None:
    for agent_id in agent_ids:
        restart_agent(agent_id)


def restart_agent(agent_id: int) -> None:
    """Start a running local agent's runtime again (new token, new port), saying so on its timeline."""
    job = last_job(agent_id)
    if job is None:
        return
    try:
        runtime = start_runtime(agent_id, job.id, restart=True)
    except RuntimeStartError as error:
        _note(agent_id, job.id, 'runtime_restart_failed', f'AgentHost started again, but the agent\'s runtime did '
                                                          f'not: {error}')
        return
    record_endpoint(agent_id, runtime.url)
    _note(agent_id, job.id, 'runtime_restarted', f'AgentHost started again, and with it the agent\'s runtime: it '
                                                 f'answers at {runtime.url} (process {runtime.pid}).')


def record_runtime_exit(agent_id: int, returncode: int, log_path: Path) -> None:
    """A runtime ended that nobody stopped: on the agent's timeline (noticing and healing it is health's work)."""
    job = last_job(agent_id)
    if job is not None:
        _note(agent_id, job.id, 'runtime_exited', f'The agent\'s runtime process ended unexpectedly (exit code '
                                                  f'{returncode}); its output is in {log_path}.')


def _note(agent_id: int, job_id: int, step: str, message: str) -> None:
    with write_transaction():
        record_event(job_id, step, message)
    log.info('agent %s: %s', agent_id, message)
    announce(Agent.get_by_id(agent_id), None)


def in_own_connection(function: Callable[..., None], *args: object) -> None:
    """Run `function` in a thread of its own, closing the database connection that thread opened."""
    try:
        function(*args)
    except Exception:
        log.exception('local runtimes: %s failed', function.__name__)
    finally:
        db.close()


supervisor.on_exit = lambda *exit: in_own_connection(record_runtime_exit, *exit)
