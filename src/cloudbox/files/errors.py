from __future__ import annotations

from cloudbox.errors import AppError, Conflict, NotFound


class BucketNotFound(NotFound):
    code = "BUCKET_NOT_FOUND"
    message = "Bucket not found"


class BucketExists(Conflict):
    code = "BUCKET_EXISTS"
    message = "A bucket with this name already exists in the project"


class BucketNotEmpty(Conflict):
    code = "BUCKET_NOT_EMPTY"
    message = "The bucket still holds files; delete them or pass force=true"


class FileNotFound(NotFound):
    code = "FILE_NOT_FOUND"
    message = "File not found"


class FileTooLarge(AppError):
    code = "FILE_TOO_LARGE"
    status = 413
    message = "The file exceeds the bucket's maximum file size"


class FileTypeNotAllowed(AppError):
    code = "FILE_TYPE_NOT_ALLOWED"
    status = 415
    message = "The bucket does not accept files of this type"


class StorageRetry(AppError):
    """The content vanished between storing it and recording the file (the garbage
    collector raced the upload). Nothing was recorded; the same request will succeed."""

    code = "STORAGE_RETRY"
    status = 503
    message = "The upload raced a storage cleanup; retry the request"


class StorageFull(AppError):
    code = "STORAGE_FULL"
    status = 507
    message = "Not enough storage space for this file"


class StorageUnavailable(AppError):
    code = "STORAGE_UNAVAILABLE"
    status = 503
    message = "The file storage is unavailable; try again later"


class FileContentMissing(AppError):
    """A file row whose content is not in the blob store: an integrity failure, never
    the client's fault, so it is logged and answered as a server error."""

    code = "FILE_CONTENT_MISSING"
    status = 500
    message = "The file's content is missing from storage"
