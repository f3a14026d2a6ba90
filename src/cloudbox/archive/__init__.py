"""Backup archive format: a validated, streaming ``.tar.gz`` per project.

A tool package: it knows nothing of projects, databases or HTTP, so it can
be tested (and fuzzed) in isolation and reused by the CLI. See
``docs/backup-format.md`` for the format itself.
"""

from cloudbox.archive.format import (
    BACKUP_VERSION,
    SECTIONS,
    SUPPORTED_VERSIONS,
    ArchiveError,
    ArchiveLimits,
)
from cloudbox.archive.reader import (
    ArchiveReader,
    ArchiveScan,
    InvalidArchive,
    Member,
    MemberKind,
    UnsupportedVersion,
    VerifiedArchive,
    parse_json_line,
    verify_archive,
)
from cloudbox.archive.writer import (
    ArchiveResult,
    ArchiveWriteError,
    ArchiveWriter,
    BlobMismatchError,
    LimitExceededError,
    MemberInfo,
    RowRejectedError,
)

__all__ = [
    "BACKUP_VERSION",
    "SECTIONS",
    "SUPPORTED_VERSIONS",
    "ArchiveError",
    "ArchiveLimits",
    "ArchiveReader",
    "ArchiveResult",
    "ArchiveScan",
    "ArchiveWriteError",
    "ArchiveWriter",
    "BlobMismatchError",
    "InvalidArchive",
    "LimitExceededError",
    "Member",
    "MemberInfo",
    "MemberKind",
    "RowRejectedError",
    "UnsupportedVersion",
    "VerifiedArchive",
    "parse_json_line",
    "verify_archive",
]
