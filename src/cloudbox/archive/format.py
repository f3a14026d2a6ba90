"""Constants and limits shared by the backup archive writer and reader.

The writer and the reader must agree byte for byte on names, versions and
limits; keeping them here means a change to the format is made in one place
and both sides (and their tests) see it at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "BACKUP_VERSION",
    "BLOB_NAME_RE",
    "CHUNK_SIZE",
    "MANIFEST_NAME",
    "METADATA_NAME",
    "SECTIONS",
    "SECTION_NAME_RE",
    "SHA256_RE",
    "SUPPORTED_VERSIONS",
    "VERSION_RE",
    "ArchiveError",
    "ArchiveLimits",
    "blob_member",
    "section_member",
]

#: Version written by this code. Bump the minor version for additive changes
#: an older reader may refuse safely; bump the major version for anything else.
BACKUP_VERSION: Final = "1.0"

#: Versions this code can restore. Older entries are upgraded on the fly by
#: the reader; anything newer than the newest entry is refused with
#: ``UnsupportedVersion`` rather than guessed at.
SUPPORTED_VERSIONS: Final[tuple[str, ...]] = ("1.0",)

#: Known sections, in the order a restore applies them (parents before
#: children), which is also the order the backup service writes them.
SECTIONS: Final[tuple[str, ...]] = (
    "project",
    "auth_settings",
    "users",
    "collections",
    "documents",
    "storage_buckets",
    "files",
    "functions",
    "function_domains",
    "ssh_keys",
    "github_repositories",
    "web_servers",
    "deployments",
    "api_keys",
    "cors_configs",
    "audit_logs",
)

METADATA_NAME: Final = "metadata.json"
MANIFEST_NAME: Final = "manifest.json"

#: ``data/<section>.ndjson``; the reader additionally requires the section to
#: be one of :data:`SECTIONS`, so the pattern can stay permissive.
SECTION_NAME_RE: Final = re.compile(r"data/([a-z][a-z0-9_]{0,63})\.ndjson")
#: ``blobs/<sha256>``: lowercase only, so one content has exactly one name.
BLOB_NAME_RE: Final = re.compile(r"blobs/([0-9a-f]{64})")
SHA256_RE: Final = re.compile(r"[0-9a-f]{64}")
#: ``MAJOR.MINOR`` without leading zeros; bounded so comparing is cheap.
VERSION_RE: Final = re.compile(r"(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})")

#: Unit of every read, write and copy: large enough to amortise per-call
#: overhead, small enough that memory stays flat whatever the archive holds.
CHUNK_SIZE: Final = 1024 * 1024

#: Tar block and record sizes (POSIX).
BLOCK_SIZE: Final = 512
RECORD_SIZE: Final = 20 * BLOCK_SIZE


class ArchiveError(Exception):
    """Base class of every error this package raises on purpose."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Resource ceilings for reading an archive (and for writing one).

    An archive is attacker-controlled input when it is uploaded for a
    restore; these bounds make a hostile archive cost at most this much CPU,
    memory and time before it is refused. The writer checks the same limits
    so that it never produces an archive the reader would refuse.
    """

    #: Tar members, including metadata.json and manifest.json.
    max_members: int = 10_000_000
    #: Declared size of a single member.
    max_member_bytes: int = 64 * 2**30
    #: Decompressed bytes of the whole tar stream (headers and padding too).
    max_total_bytes: int = 1 * 2**40
    #: Decompressed / compressed bytes consumed so far; checked continually
    #: once more than ``ratio_grace_bytes`` have been decompressed.
    max_ratio: float = 200.0
    ratio_grace_bytes: int = 64 * 2**20
    #: One ndjson line (one row), without its newline.
    max_line_bytes: int = 16 * 2**20
    #: Nesting of arrays/objects in any JSON document the archive holds.
    max_json_depth: int = 64
    #: metadata.json is read into memory, so it is capped.
    max_metadata_bytes: int = 1 * 2**20
    #: manifest.json lists every member (~170 bytes each) and is read into
    #: memory; 256 MiB is roughly 1.5 million members.
    max_manifest_bytes: int = 256 * 2**20

    def __post_init__(self) -> None:
        for name in (
            "max_members",
            "max_member_bytes",
            "max_total_bytes",
            "ratio_grace_bytes",
            "max_line_bytes",
            "max_json_depth",
            "max_metadata_bytes",
            "max_manifest_bytes",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"ArchiveLimits.{name} must be a non-negative int")
        if not self.max_ratio > 0:
            raise ValueError("ArchiveLimits.max_ratio must be positive")


def section_member(section: str) -> str:
    """Member name of a section; the only place the layout is spelled out."""
    return f"data/{section}.ndjson"


def blob_member(sha256: str) -> str:
    """Member name of a blob: content-addressed, so duplicates collapse."""
    return f"blobs/{sha256}"
