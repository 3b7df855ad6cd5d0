"""Runtime tokens: how an agent's runtime proves which agent it is to the control plane.

A token is `rt_` and 32 random bytes, stored as its SHA-256 and minted for one provision job (by the bootstrap call
of the workflow, or by the local provisioner). A new job's token works at once, so the new runtime can fetch its
config before it is ready; the tokens of earlier jobs keep working until the new job succeeds (the old server may
still be serving), then die. A job that reuses a server (its runtime keeps its token) mints none and revokes none.
"""
import hashlib
import secrets

from models import Agent, AgentStatus, RuntimeToken, utcnow, write_transaction

from .errors import RuntimeControlError

TOKEN_PREFIX = 'rt_'
INVALID = RuntimeControlError('RUNTIME_TOKEN_INVALID', 'The runtime token is unknown, revoked or superseded by a newer '
                                                        'deploy of this agent.')


def sha256_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint(agent_id: int, job_id: int | None, *, only: bool = False) -> str:
    """A new token for the agent's runtime; with `only`, every other token of the agent dies now (a local runtime
    started again: its predecessor is gone)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with write_transaction():
        row = RuntimeToken.create(agent=agent_id, job=job_id, sha256=sha256_of(token))
        if only:
            revoke_all(agent_id, keep=row.id)
    return token


def token_presented(authorization: str | None) -> str | None:
    """The runtime token in `Authorization: Bearer <token>`, if it has a runtime token's shape."""
    scheme, _, token = (authorization or '').strip().partition(' ')
    token = token.strip()
    if scheme.lower() != 'bearer' or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    return token


def agent_id_for(authorization: str | None) -> int:
    """The agent whose runtime presents `Authorization: Bearer <token>`; RUNTIME_TOKEN_INVALID otherwise."""
    token = token_presented(authorization)
    if token is None:
        raise INVALID
    row = (RuntimeToken.select(RuntimeToken.agent).join(Agent)
           .where((RuntimeToken.sha256 == sha256_of(token)) & RuntimeToken.revoked_at.is_null()
                  & (Agent.status != AgentStatus.DELETED))
           .first())
    if row is None:
        raise INVALID
    return row.agent_id


def supersede(agent_id: int, job_id: int) -> None:
    """Inside the transaction in which provision job `job_id` succeeds: the tokens of other jobs die, if this job
    minted one. A job that reused a server whose runtime was still there (a heal, a retry) minted none: that
    runtime's token stays the one that works."""
    if not RuntimeToken.select().where((RuntimeToken.agent == agent_id) & (RuntimeToken.job == job_id)).exists():
        return
    (RuntimeToken.update(revoked_at=utcnow())
     .where((RuntimeToken.agent == agent_id) & RuntimeToken.revoked_at.is_null()
            & (RuntimeToken.job.is_null() | (RuntimeToken.job != job_id)))
     .execute())


def revoke_all(agent_id: int, *, keep: int | None = None) -> None:
    """Every token of the agent dies (its runtime was removed), but `keep`."""
    condition = (RuntimeToken.agent == agent_id) & RuntimeToken.revoked_at.is_null()
    if keep is not None:
        condition &= RuntimeToken.id != keep
    RuntimeToken.update(revoked_at=utcnow()).where(condition).execute()
