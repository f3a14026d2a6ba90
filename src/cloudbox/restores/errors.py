"""Restore error codes (DESIGN §7, issue: restore)."""

from __future__ import annotations

from cloudbox.backups.errors import InvalidArchiveError, UnsupportedVersionError
from cloudbox.errors import AppError, Conflict, InvalidInput, NotFound

__all__ = [
    "InvalidArchiveError",
    "MasterKeyMismatch",
    "NotUndoable",
    "RestoreFailed",
    "RestoreInProgress",
    "RestoreNotFound",
    "UnsupportedVersionError",
]


class RestoreNotFound(NotFound):
    code = "RESTORE_NOT_FOUND"
    message = "Restore not found"


class RestoreFailed(AppError):
    code = "RESTORE_FAILED"
    status = 500
    message = "The restore failed; the target project is unchanged"


class MasterKeyMismatch(InvalidInput):
    code = "MASTER_KEY_MISMATCH"
    message = (
        "The archive's secrets were encrypted under another MASTER_KEY; restore it on a "
        "server with the same MASTER_KEY"
    )


class RestoreInProgress(Conflict):
    code = "RESTORE_IN_PROGRESS"
    message = "A restore is running on this project; writes are refused until it ends"


class NotUndoable(Conflict):
    code = "RESTORE_NOT_UNDOABLE"
    message = "Only a completed restore with a pre-restore backup can be undone"


#: what a failed restore's error code answers over HTTP
STATUS_OF = {
    "INVALID_ARCHIVE": 422,
    "UNSUPPORTED_BACKUP_VERSION": 422,
    "MASTER_KEY_MISMATCH": 422,
    "RESTORE_FAILED": 500,
    "RESTORE_INTERRUPTED": 500,
    "STORAGE_FULL": 507,
}
