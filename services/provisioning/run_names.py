"""How AgentHost knows its own workflow runs: a job's run is named `agenthost <action> <job id>` (the workflow's
`run-name`), and only runs of the configured workflow count, since any workflow may choose the same name."""
import re

from models import parse_id

RUN_NAME = re.compile(r'^agenthost (provision|deprovision) ([0-9]{1,19})$')
FAILED_CONCLUSIONS = ('failure', 'cancelled', 'timed_out', 'startup_failure')
"""A finished run with one of these conclusions failed its job."""


def run_name(action: str, job_id: int) -> str:
    """The workflow's `run-name` for a job: how a run is found again when its id is unknown."""
    return f'agenthost {action} {job_id}'


def job_for_run_name(title: str) -> tuple[str, int] | None:
    """(action, job id) from a run's name, or None for runs that are not AgentHost's."""
    match = RUN_NAME.match(title.strip())
    job_id = parse_id(match.group(2)) if match else None
    if match is None or job_id is None:
        return None  # not a job id the database can hold: no job of ours
    return match.group(1), job_id


def is_configured_workflow(run: dict, workflow: str) -> bool:
    """Whether a run (as GitHub sends it) belongs to `workflow`: a file name matches the run's path, a number its id.

    A run's title alone proves nothing: any workflow in the repository may choose the same run-name.
    """
    if workflow.isdigit():
        return str(run.get('workflow_id') or '') == workflow
    path = str(run.get('path') or '').split('@', 1)[0]
    return bool(path) and path.rsplit('/', 1)[-1] == workflow.rsplit('/', 1)[-1]
