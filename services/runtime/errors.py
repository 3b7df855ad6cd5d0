from ..platform.errors import DomainError


class RuntimeControlError(DomainError):
    """Codes: INVALID_INPUT, NOT_FOUND, UNAUTHORIZED (a wrong, revoked or superseded runtime token),
    AGENT_NOT_RUNNING, AGENT_UNREACHABLE, REDEPLOY_REQUIRED."""
