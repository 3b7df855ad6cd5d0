"""Agent API keys: what a customer's client sends to the agent's endpoint.

A key is `ah_` and 32 random bytes, shown once and stored as its SHA-256; the runtime receives only the hashes
(in its config) and compares them in constant time. AgentHost's own key for the chat panel is derived from
STORAGE_SECRET, so every AgentHost instance can compute it and it never needs storing in clear or showing.
"""
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from models import Agent, AgentApiKey, parse_id, utcnow, write_transaction

from ..platform.inputs import text_problem
from ..platform.settings import get_settings
from . import revisions
from .errors import RuntimeControlError

KEY_PREFIX = 'ah_'
CHAT_KEY_PREFIX = 'ah_chat_'
CHAT_KEY_NAME = 'AgentHost chat'
NAME_LIMIT = 64


@dataclass(frozen=True)
class NewKey:
    id: int
    name: str
    key: str
    created_at: datetime


def sha256_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def chat_key(agent_id: int) -> str:
    """AgentHost's own key to agent `agent_id`, the same on every instance and never sent to a browser."""
    secret = get_settings().session_secret().encode()
    return CHAT_KEY_PREFIX + hmac.new(secret, f'agent-chat-key:{agent_id}'.encode(), hashlib.sha256).hexdigest()


def ensure_chat_key(agent_id: int) -> None:
    """Store the chat key's hash for the agent if it is not stored yet (before its config is first served)."""
    digest = sha256_of(chat_key(agent_id))
    if AgentApiKey.select().where(AgentApiKey.sha256 == digest).exists():
        return
    with write_transaction():
        (AgentApiKey.insert(agent=agent_id, name=CHAT_KEY_NAME, sha256=digest, internal=True)
         .on_conflict_ignore().execute())


def create_key(agent_id: int, name: object) -> NewKey:
    """A new key for the agent; the key itself is in the answer only."""
    if not isinstance(name, str) or not name.strip():
        raise RuntimeControlError('INVALID_INPUT', 'Give the key a name, such as the app that will use it.',
                                  field='name')
    name = name.strip()
    if problem := text_problem(name, multiline=False):
        raise RuntimeControlError('INVALID_INPUT', problem, field='name')
    if len(name) > NAME_LIMIT:
        raise RuntimeControlError('INVALID_INPUT', f'Use at most {NAME_LIMIT} characters.', field='name')
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with write_transaction():
        row = AgentApiKey.create(agent=agent_id, name=name, sha256=sha256_of(key), created_at=utcnow())
        revisions.record_new(agent_id)
    revisions.announce_new(Agent.get_by_id(agent_id))
    return NewKey(id=row.id, name=row.name, key=key, created_at=row.created_at)


def listed_keys(agent_id: int) -> list[AgentApiKey]:
    """The customer's unrevoked keys, oldest first (AgentHost's own chat key is not among them)."""
    return list(AgentApiKey.select()
                .where((AgentApiKey.agent == agent_id) & AgentApiKey.revoked_at.is_null() & ~AgentApiKey.internal)
                .order_by(AgentApiKey.id))


def revoke_key(agent_id: int, key_id: int) -> int:
    """Revoke the key; answers its id."""
    with write_transaction():
        revoked = (AgentApiKey.update(revoked_at=utcnow())
                   .where((AgentApiKey.id == key_id) & (AgentApiKey.agent == agent_id)
                          & AgentApiKey.revoked_at.is_null() & ~AgentApiKey.internal)
                   .execute())
        if revoked:
            revisions.record_new(agent_id)  # the runtime refuses the key once it has the new revision
    if not revoked:
        raise RuntimeControlError('NOT_FOUND', 'This agent has no such key (it may be revoked already).')
    revisions.announce_new(Agent.get_by_id(agent_id))
    return key_id


def active_key_hashes(agent_id: int) -> list[dict]:
    """What the runtime's config lists: every unrevoked key of the agent, AgentHost's chat key included."""
    rows = (AgentApiKey.select(AgentApiKey.id, AgentApiKey.sha256)
            .where((AgentApiKey.agent == agent_id) & AgentApiKey.revoked_at.is_null())
            .order_by(AgentApiKey.id))
    return [{'id': row.id, 'sha256': row.sha256} for row in rows]


def note_key_use(agent_id: int, used: dict[str, float]) -> None:
    """Inside the heartbeat's write transaction: `last_used_at` from its `api_keys_used` ({key id: unix time});
    unknown ids, and ids no row can have (checked first: PostgreSQL refuses a number past its bigint), are ignored."""
    for reported_id, seen in used.items():
        key_id = parse_id(reported_id)
        if key_id is None or not isinstance(seen, int | float) or isinstance(seen, bool):
            continue
        when = datetime.fromtimestamp(min(max(seen, 0), time.time()), UTC).replace(tzinfo=None)
        (AgentApiKey.update(last_used_at=when)
         .where((AgentApiKey.id == key_id) & (AgentApiKey.agent == agent_id)
                & (AgentApiKey.last_used_at.is_null() | (AgentApiKey.last_used_at < when)))
         .execute())
