"""Exceptions raised by the CloudBox SDK.

Every error answer of the server has one shape, ``{"error": {"code", "message",
"details"}}``. :func:`error_from_response` turns it into an instance of the
subclass registered for that code (``BACKUP_NOT_FOUND`` -> :class:`BackupNotFound`),
or of :class:`CloudBoxError` itself for a code this SDK does not know yet. The
subclasses are grouped (:class:`NotFound`, :class:`Conflict`, :class:`Unauthorized`,
...) so callers can catch a family at once.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx

__all__ = [
    "AlreadyMember",
    "ApiKeyNotFound",
    "AppUserExists",
    "AppUserNotFound",
    "BackupInProgress",
    "BackupIncomplete",
    "BackupNotFound",
    "BackupNotRunning",
    "BucketExists",
    "BucketNotEmpty",
    "BucketNotFound",
    "ChecksumMismatch",
    "CloudBoxError",
    "CollectionExists",
    "CollectionNotFound",
    "Conflict",
    "ConnectionFailed",
    "DocumentExists",
    "DocumentNotFound",
    "EmailTaken",
    "FileNotFound",
    "FileTooLarge",
    "Forbidden",
    "InsufficientPermissions",
    "InternalError",
    "InvalidArchive",
    "InvalidCredentials",
    "InvalidSchedule",
    "InvalidTimezone",
    "InvalidToken",
    "InvalidWebhookUrl",
    "LastOwner",
    "MasterKeyMismatch",
    "MemberNotFound",
    "NotFound",
    "PayloadTooLarge",
    "PolicyLimitReached",
    "PolicyNotFound",
    "ProjectNotFound",
    "RestoreFailed",
    "RestoreInProgress",
    "RestoreNotFound",
    "RestoreNotUndoable",
    "StorageFull",
    "TooManyAttempts",
    "Unauthorized",
    "UnsupportedBackupVersion",
    "UserNotFound",
    "ValidationError",
    "VersionConflict",
    "WaitTimeout",
    "WebhookTargetForbidden",
    "error_class_for",
    "error_from_response",
]

_REGISTRY: dict[str, type[CloudBoxError]] = {}


class CloudBoxError(Exception):
    """An error answer of the server (or a client-side failure with its own code).

    ``status`` is the HTTP status (0 when no answer arrived), ``code`` the server's
    stable code (e.g. ``BACKUP_NOT_FOUND``), ``message`` a text safe to show and
    ``details`` the structured details of the envelope.
    """

    #: The code a subclass stands for; empty on the base and on family classes.
    error_code: ClassVar[str] = ""

    def __init_subclass__(cls, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            if code in _REGISTRY:
                raise TypeError(f"error code {code} is registered twice")
            _REGISTRY[code] = cls
            cls.error_code = code

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.response = response

    def __str__(self) -> str:
        prefix = f"{self.code} ({self.status})" if self.status else self.code
        return f"{prefix}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, details={self.details!r})"
        )


# -- families ------------------------------------------------------------------------


class Unauthorized(CloudBoxError, code="UNAUTHORIZED"):
    """401: no credential, or one the server does not accept."""


class Forbidden(CloudBoxError):
    """403 family."""


class NotFound(CloudBoxError, code="NOT_FOUND"):
    """404: no such route; the base of every ``*_NOT_FOUND`` code."""


class Conflict(CloudBoxError, code="CONFLICT"):
    """409 family."""


class ValidationError(CloudBoxError, code="VALIDATION_ERROR"):
    """422: the request body, query or path is invalid (``details["fields"]``)."""


# -- authentication and permissions ---------------------------------------------------


class InvalidToken(Unauthorized, code="INVALID_TOKEN"):
    pass


class InvalidCredentials(Unauthorized, code="INVALID_CREDENTIALS"):
    pass


class TooManyAttempts(CloudBoxError, code="TOO_MANY_ATTEMPTS"):
    pass


class InsufficientPermissions(Forbidden, code="INSUFFICIENT_PERMISSIONS"):
    """403: the caller's role or API key scope is too low."""


# -- not found --------------------------------------------------------------------------


class BackupNotFound(NotFound, code="BACKUP_NOT_FOUND"):
    pass


class RestoreNotFound(NotFound, code="RESTORE_NOT_FOUND"):
    pass


class ProjectNotFound(NotFound, code="PROJECT_NOT_FOUND"):
    pass


class UserNotFound(NotFound, code="USER_NOT_FOUND"):
    pass


class MemberNotFound(NotFound, code="MEMBER_NOT_FOUND"):
    pass


class ApiKeyNotFound(NotFound, code="API_KEY_NOT_FOUND"):
    pass


class CollectionNotFound(NotFound, code="COLLECTION_NOT_FOUND"):
    pass


class DocumentNotFound(NotFound, code="DOCUMENT_NOT_FOUND"):
    pass


class BucketNotFound(NotFound, code="BUCKET_NOT_FOUND"):
    pass


class FileNotFound(NotFound, code="FILE_NOT_FOUND"):
    pass


class AppUserNotFound(NotFound, code="APP_USER_NOT_FOUND"):
    pass


class PolicyNotFound(NotFound, code="POLICY_NOT_FOUND"):
    """404: no such backup policy, or the caller is not a member of its project."""


# -- conflicts --------------------------------------------------------------------------


class BackupInProgress(Conflict, code="BACKUP_IN_PROGRESS"):
    """409: a backup or restore is running on the project (or the backup is creating)."""


class BackupIncomplete(Conflict, code="BACKUP_INCOMPLETE"):
    """409: the backup is not completed yet."""


class BackupNotRunning(Conflict, code="BACKUP_NOT_RUNNING"):
    """409: only a backup that is being created can be cancelled."""


class RestoreInProgress(Conflict, code="RESTORE_IN_PROGRESS"):
    pass


class RestoreNotUndoable(Conflict, code="RESTORE_NOT_UNDOABLE"):
    pass


class EmailTaken(Conflict, code="EMAIL_TAKEN"):
    pass


class AlreadyMember(Conflict, code="ALREADY_MEMBER"):
    pass


class LastOwner(Conflict, code="LAST_OWNER"):
    pass


class CollectionExists(Conflict, code="COLLECTION_EXISTS"):
    pass


class DocumentExists(Conflict, code="DOCUMENT_EXISTS"):
    pass


class BucketExists(Conflict, code="BUCKET_EXISTS"):
    pass


class BucketNotEmpty(Conflict, code="BUCKET_NOT_EMPTY"):
    pass


class AppUserExists(Conflict, code="APP_USER_EXISTS"):
    pass


class PolicyLimitReached(Conflict, code="POLICY_LIMIT_REACHED"):
    """409: the project already has the most backup policies allowed (20)."""


class VersionConflict(CloudBoxError, code="VERSION_CONFLICT"):
    pass


# -- backup policies: invalid input (422, all ValidationError) ---------------------------------


class InvalidSchedule(ValidationError, code="INVALID_SCHEDULE"):
    """422: not a valid 5-field cron expression, or one that never fires."""


class InvalidTimezone(ValidationError, code="INVALID_TIMEZONE"):
    """422: not an IANA time zone name."""


class InvalidWebhookUrl(ValidationError, code="INVALID_WEBHOOK_URL"):
    """422: not http(s), carries credentials, has no host, or the host does not resolve."""


class WebhookTargetForbidden(InvalidWebhookUrl, code="WEBHOOK_TARGET_FORBIDDEN"):
    """422: the webhook host is (or resolves to) a loopback, private, link-local or
    otherwise non-public address the server's allow-list does not name."""


# -- archives, storage, jobs ---------------------------------------------------------------


class InvalidArchive(CloudBoxError, code="INVALID_ARCHIVE"):
    """422: the archive is not a valid CloudBox backup; nothing was applied."""


class UnsupportedBackupVersion(InvalidArchive, code="UNSUPPORTED_BACKUP_VERSION"):
    """422: the archive was made by a newer CloudBox."""


class MasterKeyMismatch(CloudBoxError, code="MASTER_KEY_MISMATCH"):
    pass


class StorageFull(CloudBoxError, code="STORAGE_FULL"):
    """507: not enough storage space."""


class RestoreFailed(CloudBoxError, code="RESTORE_FAILED"):
    """500: the restore failed; the target project is unchanged."""


class PayloadTooLarge(CloudBoxError, code="PAYLOAD_TOO_LARGE"):
    pass


class FileTooLarge(CloudBoxError, code="FILE_TOO_LARGE"):
    pass


class InternalError(CloudBoxError, code="INTERNAL_ERROR"):
    pass


# -- client-side ----------------------------------------------------------------------


class ConnectionFailed(CloudBoxError, code="CONNECTION_ERROR"):
    """No answer: the server is unreachable, or the connection broke (status 0)."""


class WaitTimeout(CloudBoxError, TimeoutError, code="WAIT_TIMEOUT"):
    """A ``wait_for_completion`` gave up before the job finished (status 0)."""


class ChecksumMismatch(CloudBoxError, code="CHECKSUM_MISMATCH"):
    """A downloaded archive does not match the digest the server announced (status 0)."""


def error_class_for(code: str) -> type[CloudBoxError]:
    """The exception class for a server code; :class:`CloudBoxError` when unknown."""
    return _REGISTRY.get(code, CloudBoxError)


def error_from_response(response: httpx.Response, body: bytes | None = None) -> CloudBoxError:
    """Build the exception for an error response (its body must already be read)."""
    raw = response.content if body is None else body
    code = f"HTTP_{response.status_code}"
    message = response.reason_phrase or "HTTP error"
    details: dict[str, Any] = {}
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = None
    envelope = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(envelope, dict) and isinstance(envelope.get("code"), str):
        code = envelope["code"]
        if isinstance(envelope.get("message"), str):
            message = envelope["message"]
        if isinstance(envelope.get("details"), dict):
            details = envelope["details"]
    elif raw:
        text = raw[:200].decode("utf-8", "replace").strip()
        if text:
            message = f"{message}: {text}"
    cls = error_class_for(code)
    return cls(response.status_code, code, message, details, response=response)
