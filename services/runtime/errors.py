from ..platform.errors import DomainError


class RuntimeControlError(DomainError):
    """Codes: INVALID_INPUT, NOT_FOUND, NO_OPEN_JOB, PROVISIONING_NOT_CONFIGURED, RUNTIME_TOKEN_INVALID (a wrong,
    revoked or superseded runtime token), PLAIN_HTTP_REFUSED, AGENT_NOT_RUNNING, AGENT_UNREACHABLE and SHUTTING_DOWN
    (a heartbeat that arrived as AgentHost stopped); the agent rules raise REDEPLOY_REQUIRED as an `AgentError`."""
