"""Error base classes shared by every layer.

Services raise `AppError` subclasses that carry a stable code and an HTTP-free status
hint; the API layer renders them into the one error envelope. Messages must be safe to
show to a client: no paths, no SQL, no exception text from libraries.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """A failure a client may see, with a stable SCREAMING_SNAKE code."""

    code: str = "INTERNAL_ERROR"
    status: int = 500
    message: str = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or self.message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}
        super().__init__(self.message)


class NotFound(AppError):
    code = "NOT_FOUND"
    status = 404
    message = "Not found"


class Conflict(AppError):
    code = "CONFLICT"
    status = 409
    message = "Conflict"


class Forbidden(AppError):
    code = "INSUFFICIENT_PERMISSIONS"
    status = 403
    message = "You do not have permission to do this"


class Unauthorized(AppError):
    code = "UNAUTHORIZED"
    status = 401
    message = "Authentication required"


class InvalidInput(AppError):
    code = "VALIDATION_ERROR"
    status = 422
    message = "Invalid input"


class TooManyRequests(AppError):
    code = "TOO_MANY_ATTEMPTS"
    status = 429
    message = "Too many attempts; try again later"


class ProjectNotFound(NotFound):
    code = "PROJECT_NOT_FOUND"
    message = "Project not found"
