"""The shapes of the JSON API, for its OpenAPI description (`GET /openapi.json`, browsable at `/docs`).

Routes declare what they answer with `response_model=` (FastAPI then also checks each answer against it) and the
error shape through `ERRORS`. Request bodies are *documented* with `body(Model)` but not parsed by FastAPI: routes
read them with `bodies.read_json` (bounded size, depth and numbers) and the services' own rules
(`agents.clean_fields`, `validate_field`, `chat.clean_messages`, …) stay the one place that decides what is valid
and which message comes back. A new route follows the same pattern: a model here, `response_model=`, `body(...)`.
"""
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    model_config = ConfigDict(extra='forbid')


# --- errors ---------------------------------------------------------------------------------------------------------

class ErrorDetail(Shape):
    code: str = Field(description='stable, for programs: NOT_FOUND, INVALID_INPUT, AGENT_LIMIT_REACHED, …')
    message: str = Field(description='a sentence for people, naming the problem and the fix')
    field: str | None = Field(None, description='the request field at fault, when there is one')


class ErrorAnswer(Shape):
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {'model': ErrorAnswer, 'description': description} for status, description in (
        (400, 'malformed JSON or a refused request'), (401, 'not authenticated'), (403, 'not allowed'),
        (404, 'not found'), (409, 'conflicts with the current state'), (413, 'body too large'),
        (422, 'invalid input (`field` names it)'), (429, 'too many attempts (see Retry-After)'),
        (502, 'an upstream service failed'), (503, 'not configured on this installation'))}


def body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` documenting a JSON request body that the route reads itself."""
    schema = model.model_json_schema()
    schema = inlined(schema, schema.pop('$defs', {}))
    return {'requestBody': {'required': required, 'content': {'application/json': {'schema': schema}}}}


def inlined(node: Any, definitions: dict[str, Any]) -> Any:
    """`node` with each `$ref` to a local definition replaced by the definition (OpenAPI has no `$defs` here)."""
    if isinstance(node, dict):
        if '$ref' in node and node['$ref'].startswith('#/$defs/'):
            return inlined(definitions[node['$ref'].removeprefix('#/$defs/')], definitions)
        return {key: inlined(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [inlined(item, definitions) for item in node]
    return node


# --- agents ---------------------------------------------------------------------------------------------------------

class AgentFields(Shape):
    """Create: `name` is required, the rest have defaults. PATCH: any subset; a running agent takes name,
    description, model and system_prompt live (region or size: 409 REDEPLOY_REQUIRED)."""
    name: str | None = Field(None, max_length=64)
    description: str | None = Field(None, max_length=1000)
    model: str | None = None
    system_prompt: str | None = Field(None, max_length=20000)
    region: str | None = None
    size: str | None = None


class Job(Shape):
    id: int
    kind: Literal['provision', 'deprovision']
    status: str
    attempts: int
    last_error: str | None
    run_id: str | None
    run_url: str | None
    created_at: str | None
    updated_at: str | None


class Usage(Shape):
    period_start: str
    requests: int
    input_tokens: int
    output_tokens: int


class Agent(Shape):
    id: int
    name: str
    description: str
    model: str
    system_prompt: str
    region: str
    size: str
    status: str
    ip_address: str | None
    job: Job | None
    endpoint_url: str | None = Field(description='where the agent answers its OpenAI-compatible API, while it runs')
    config_revision: int = Field(description='the newest saved configuration')
    applied_revision: int | None = Field(description='the configuration its runtime serves (from heartbeats)')
    health: str
    health_message: str
    last_heartbeat_at: str | None
    usage: Usage
    created_at: str | None
    updated_at: str | None


class AgentList(Shape):
    agents: list[Agent]


class JobAnswer(Shape):
    job: Job | None


class TimelineEvent(Shape):
    time: str | None
    step: str
    message: str


class Timeline(Shape):
    events: list[TimelineEvent]


# --- agent keys and chat --------------------------------------------------------------------------------------------

class KeyRequest(Shape):
    name: str = Field(max_length=64, description='what the key is for, such as the app that will use it')


class CreatedKey(Shape):
    id: int
    name: str
    key: str = Field(description='shown only in this answer; AgentHost keeps its SHA-256')
    created_at: str | None


class ListedKey(Shape):
    id: int
    name: str
    created_at: str | None
    last_used_at: str | None


class KeyList(Shape):
    keys: list[ListedKey]


class ChatMessage(Shape):
    role: Literal['user', 'assistant']
    content: str


class ChatRequest(Shape):
    messages: list[ChatMessage] = Field(description='the conversation, the last message from the user')


class ChatUsage(Shape):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatAnswer(Shape):
    message: ChatMessage
    usage: ChatUsage


# --- accounts and billing -------------------------------------------------------------------------------------------

class TokenRequest(Shape):
    email: str
    password: str
    name: str | None = Field(None, description='a label for the token')


class TokenAnswer(Shape):
    token: str = Field(description='send it as "Authorization: Bearer <token>"; shown only here')


class Billing(Shape):
    plan: str | None
    status: str | None
    period_end: str | None
    cancel_at_period_end: bool
    agents_used: int
    agents_allowed: int


class CheckoutRequest(Shape):
    plan: str | None = Field(None, description='starter, pro or business (subscription mode)')
    agent_id: int | None = Field(None, description='the agent to pay for (per_agent mode)')


class RedirectUrl(Shape):
    url: str


# --- machines: webhooks, the workflow, runtimes -----------------------------------------------------------------

class WebhookReceipt(Shape):
    received: bool
    duplicate: bool | None = None
    result: str | None = None


class CallbackRequest(Shape):
    """A progress report of the provision workflow, signed with `X-AgentHost-Signature`."""
    job_id: int
    status: Literal['in_progress', 'progress', 'succeeded', 'failed']
    step: str | None = Field(None, max_length=64)
    message: str | None = Field(None, max_length=2000)
    ip_address: str | None = Field(None, max_length=64)
    server_id: str | None = Field(None, max_length=64)
    run_id: str | None = Field(None, max_length=32)
    run_url: str | None = Field(None, max_length=512)
    endpoint_url: str | None = Field(None, max_length=255, description='https:// URL where the server\'s runtime '
                                                                       'answers (with `succeeded`)')


class CallbackAnswer(Shape):
    job_id: int
    status: str
    changed: bool


class JobIdRequest(Shape):
    job_id: int


class BootstrapAnswer(Shape):
    agent_id: int
    control_url: str
    runtime_token: str = Field(description='the new runtime\'s token; the previous one dies when this job succeeds')


class ConfigAgent(Shape):
    id: int
    name: str
    model: str
    system_prompt: str


class ConfigProvider(Shape):
    kind: Literal['anthropic', 'openai']
    base_url: str | None
    api_key: str


class ConfigKey(Shape):
    id: int
    sha256: str


class RuntimeConfig(Shape):
    revision: int
    agent: ConfigAgent
    provider: ConfigProvider
    api_keys: list[ConfigKey]
    heartbeat_seconds: float


class HeartbeatUsage(Shape):
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


class HeartbeatRequest(Shape):
    boot_id: str
    seq: int
    revision: int | None
    status: Literal['ok', 'degraded']
    message: str = ''
    usage: HeartbeatUsage
    api_keys_used: dict[str, float] = Field(default_factory=dict, description='key id → unix time of its last use')


class HeartbeatAnswer(Shape):
    revision: int = Field(description='the newest config revision; the runtime fetches it when it is newer')


class ShippedLogLine(Shape):
    seq: int = Field(description='numbered from 1 per boot')
    at: str = Field(description='ISO 8601 time')
    level: Literal['debug', 'info', 'warning', 'error', 'critical']
    message: str


class LogLinesRequest(Shape):
    boot_id: str
    lines: list[ShippedLogLine] = Field(max_length=200)


class LogLinesAnswer(Shape):
    added: int = Field(description='lines that were new (a batch sent again adds none)')


class AgentLogLine(Shape):
    at: str
    level: str
    message: str
    boot_id: str


class AgentLog(Shape):
    lines: list[AgentLogLine] = Field(description='the newest lines, oldest first (at most 500)')
