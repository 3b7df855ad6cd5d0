"""Provisioning: an agent's configuration, and its lifecycle on a server through jobs run by a GitHub workflow, or
on this machine (`local`, its runtimes' processes in `local_runtimes`) when GitHub is not set up.

The job table is the truth, workers only move it forward. `commands` turns Deploy, Stop, Delete, Retry and Cancel
into jobs; `dispatch` (driven by `scheduler`) claims due jobs and dispatches them through `github`; `reports`
applies the workflow's verified callbacks (`callbacks` checks them) and `workflow_runs` GitHub's `workflow_run`
webhook (stored through `platform.webhook_store`, its runs known by `run_names`); the `reaper` fails jobs that
went silent; `healing` marks silent agents unreachable and provisions them again; `jobs` holds the table's rules,
reads, the timeline (`record_event`) and `announce`. The dispatcher is a `platform.workers`
worker, its retries a `platform.retry` policy.
`agents` owns the configuration rules and owner-scoped lookups and depends on nothing here; `servers` says which
agents may hold a server, `failure_reasons` how a failure reads to its owner. Every function is synchronous:
async callers use `run.io_bound` (never `await` inside a transaction: all coroutines share one connection).

Other packages call the names below, or import the modules of this package by name.
"""
from .commands import DEPLOYABLE_STATUSES, cancel, request_delete, request_deploy, request_stop, retry, stop_agent
from .dispatch import RUN_LISTING_DELAY, callback_url, dispatch_lease, due_job_ids, next_wake_at, work_on
from .jobs import (
    STATUS_RANK,
    STEP_LABELS,
    STEPS,
    AgentState,
    ProvisioningError,
    agent_state,
    agents_with_jobs,
    last_job,
    latest_jobs,
    provisioning_is_configured,
    steps_of,
    timeline,
)
from .reaper import reap_silent_jobs
from .reports import CALLBACK_STATUSES, Report, apply_report
from .workflow_runs import apply_workflow_run

__all__ = [
    'CALLBACK_STATUSES',
    'DEPLOYABLE_STATUSES',
    'RUN_LISTING_DELAY',
    'STATUS_RANK',
    'STEPS',
    'STEP_LABELS',
    'AgentState',
    'ProvisioningError',
    'Report',
    'agent_state',
    'agents_with_jobs',
    'apply_report',
    'apply_workflow_run',
    'callback_url',
    'cancel',
    'dispatch_lease',
    'due_job_ids',
    'last_job',
    'latest_jobs',
    'next_wake_at',
    'provisioning_is_configured',
    'reap_silent_jobs',
    'request_delete',
    'request_deploy',
    'request_stop',
    'retry',
    'steps_of',
    'stop_agent',
    'timeline',
    'work_on',
]
