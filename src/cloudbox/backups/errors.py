"""Backup error codes. The spec's five keep their names and statuses (DESIGN §7)."""

from __future__ import annotations

from cloudbox.errors import AppError, Conflict, InvalidInput, NotFound


class BackupNotFound(NotFound):
    code = "BACKUP_NOT_FOUND"
    message = "Backup not found"


class BackupIncomplete(Conflict):
    code = "BACKUP_INCOMPLETE"
    message = "The backup is not completed"


class BackupBusy(Conflict):
    code = "BACKUP_IN_PROGRESS"
    message = "The backup is still being created"


class StorageFullError(AppError):
    code = "STORAGE_FULL"
    status = 507
    message = "Not enough storage space for this backup"


class InvalidArchiveError(InvalidInput):
    code = "INVALID_ARCHIVE"
    message = "The archive is not a valid CloudBox backup"


class UnsupportedVersionError(InvalidInput):
    code = "UNSUPPORTED_BACKUP_VERSION"
    message = "The archive was made by a newer CloudBox; upgrade this server to read it"


class NotCancellable(Conflict):
    code = "BACKUP_NOT_RUNNING"
    message = "Only a backup that is being created can be cancelled"
