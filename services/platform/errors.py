"""The base of every domain error: a stable code for machines and a sentence for people.

Each domain subclasses it (`AccountError`, `AgentError`, `GateError`, …); `api/errors.py` maps codes to HTTP
statuses once, at the edge, and pages show `message` next to the control that caused it.
"""


class DomainError(Exception):
    def __init__(self, code: str, message: str, *, field: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after

    def to_dict(self) -> dict:
        error = {'code': self.code, 'message': self.message}
        if self.field is not None:
            error['field'] = self.field
        return {'error': error}
