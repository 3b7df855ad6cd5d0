"""Bootstrap: the provision workflow trades a signed request for the runtime token of the server it creates.

The request is signed like the workflow's callbacks (CALLBACK_SECRET), so nothing secret ever travels in the
workflow's inputs or logs; each call mints a new token for the job, and only an open provision job gets one.
"""
from models import JobKind, ProvisioningJob, parse_id

from ..platform.inputs import parse_json_object
from ..platform.settings import get_settings
from ..provisioning.callbacks import verify_from_workflow
from . import tokens
from .errors import RuntimeControlError


def bootstrap(body: bytes, signature: str | None) -> dict:
    verify_from_workflow(body, signature)
    job_id = parse_id(parse_json_object(body).get('job_id'))
    if job_id is None:
        raise RuntimeControlError('INVALID_INPUT', 'job_id must be the id of a provision job.', field='job_id')
    job = ProvisioningJob.get_or_none(ProvisioningJob.id == job_id)
    if job is None or job.kind != JobKind.PROVISION:
        raise RuntimeControlError('NOT_FOUND', f'There is no provision job {job_id}.')
    if not job.is_open:
        raise RuntimeControlError('NO_OPEN_JOB', f'Provision job {job_id} is {job.status}: only an open job gets a '
                                                 'runtime token.')
    return {'agent_id': job.agent_id, 'control_url': get_settings().public_url.rstrip('/'),
            'runtime_token': tokens.mint(job.agent_id, job.id)}
