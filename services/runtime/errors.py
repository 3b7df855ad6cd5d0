from ..platform.errors import DomainError


class RuntimeControlError(DomainError):
    """Codes: INVALID_INPUT, NOT_FOUND, NO_OPEN_JOB, PROVISIONING_NOT_CONFIGURED, RUNTIME_TOKEN_INVALID (a wrong,
    revoked or superseded runtime token), PLAIN_HTTP_REFUSED, AGENT_NOT_RUNNING and AGENT_UNREACHABLE; the agent
    rules raise REDEPLOY_REQUIRED as an `AgentError`."""
