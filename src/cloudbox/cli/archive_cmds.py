"""Offline archive commands: ``cloudbox archive inspect FILE`` and
``cloudbox archive verify FILE``. They read a backup archive on disk with the same
validating reader a restore uses (:func:`cloudbox.archive.verify_archive`) and need
no server, database or configuration."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import IO, Any

import click

from cloudbox.archive import (
    ArchiveLimits,
    InvalidArchive,
    VerifiedArchive,
    verify_archive,
)
from cloudbox.cli.client import (
    EXIT_CODES_HELP,
    EXIT_INVALID_ARCHIVE,
    EXIT_USAGE,
    ClientCommand,
    ClientGroup,
)
from cloudbox.cli.progress import format_bytes

__all__ = ["archive"]

_SHA256 = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")


class ArchiveRefused(click.ClickException):
    """The archive broke a rule: the reason on stderr (and a JSON verdict on stdout
    with ``--json``), exit code 5."""

    exit_code = EXIT_INVALID_ARCHIVE

    def __init__(self, path: Path, exc: InvalidArchive, as_json: bool) -> None:
        super().__init__(exc.reason)
        self.path = path
        self.error = exc
        self.as_json = as_json

    def show(self, file: IO[Any] | None = None) -> None:
        if self.as_json:
            verdict = {
                "file": str(self.path),
                "ok": False,
                "code": self.error.code,
                "rule": self.error.rule,
                "reason": self.error.reason,
            }
            click.echo(json.dumps(verdict, indent=2))
        click.echo(
            f"REFUSED {self.path}: {self.error.reason} [{self.error.code}, rule {self.error.rule}]",
            err=True,
        )


def _read(path: Path, as_json: bool, expected_sha256: str | None = None) -> VerifiedArchive:
    try:
        with path.open("rb") as source:
            return verify_archive(
                source, ArchiveLimits(), check_rows=True, expected_sha256=expected_sha256
            )
    except InvalidArchive as exc:
        raise ArchiveRefused(path, exc, as_json) from exc
    except OSError as exc:
        error = click.ClickException(f"cannot read {path}: {exc.strerror or exc}")
        vars(error)["exit_code"] = EXIT_USAGE
        raise error from exc


def _section_sizes(verified: VerifiedArchive) -> dict[str, int]:
    sizes: dict[str, int] = {}
    members = verified.manifest.get("members")
    if isinstance(members, list):
        for entry in members:
            if not isinstance(entry, dict):
                continue
            name, size = entry.get("name"), entry.get("size")
            if isinstance(name, str) and name.startswith("data/") and isinstance(size, int):
                sizes[name.removeprefix("data/").removesuffix(".ndjson")] = size
    return sizes


def _member_count(verified: VerifiedArchive) -> int:
    """Members of the archive: those the manifest lists, plus the manifest itself."""
    members = verified.manifest.get("members")
    return (len(members) if isinstance(members, list) else 0) + 1


def describe(path: Path, verified: VerifiedArchive) -> dict[str, Any]:
    """Everything ``inspect`` reports, as one JSON-able document."""
    sizes = _section_sizes(verified)
    metadata = verified.metadata
    return {
        "file": str(path),
        "size": verified.size,
        "sha256": verified.sha256,
        "checksum": f"sha256:{verified.sha256}",
        "expanded_size": verified.expanded_size,
        "backup_version": metadata.get("backup_version"),
        "metadata": metadata,
        "sections": {
            name: {"rows": rows, "bytes": sizes.get(name, 0)}
            for name, rows in verified.sections.items()
        },
        "totals": {
            "sections": len(verified.sections),
            "rows": sum(verified.sections.values()),
            "section_bytes": sum(sizes.values()),
            "blobs": len(verified.blobs),
            "blob_bytes": sum(verified.blobs.values()),
            "members": _member_count(verified),
        },
    }


@click.group(cls=ClientGroup, epilog=EXIT_CODES_HELP)
def archive() -> None:
    """Inspect and verify backup archives on disk (no server needed)."""


@archive.command("inspect", cls=ClientCommand, epilog=EXIT_CODES_HELP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (for scripts).")
def inspect_command(file: Path, as_json: bool) -> None:
    """Show an archive's metadata, sections (rows and sizes) and blobs.

    The archive is read completely and checked on the way; one that breaks a rule is
    refused with the reason (exit 5), exactly as by `cloudbox archive verify`.
    """
    info = describe(file, _read(file, as_json))
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    meta = info["metadata"]
    totals = info["totals"]
    click.echo(f"Archive {file}")
    click.echo(f"  size            {format_bytes(info['size'])} ({info['size']} bytes)")
    click.echo(f"  sha256          {info['sha256']}")
    click.echo(f"  expanded        {format_bytes(info['expanded_size'])}")
    click.echo(f"  backup version  {info['backup_version']}")
    for key in ("project_id", "project_name", "backup_type", "created_at", "cloudbox_version"):
        if key in meta:
            click.echo(f"  {key.replace('_', ' '):<16}{meta[key]}")
    click.echo(f"Sections ({totals['sections']}, {totals['rows']} rows):")
    for name, section in info["sections"].items():
        click.echo(f"  {name:<22}{section['rows']:>10} rows  {format_bytes(section['bytes']):>12}")
    click.echo(f"Blobs: {totals['blobs']} ({format_bytes(totals['blob_bytes'])})")


@archive.command("verify", cls=ClientCommand, epilog=EXIT_CODES_HELP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--sha256",
    "expected",
    default=None,
    help="Also require this SHA-256 of the whole file (hex, optionally sha256:-prefixed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (for scripts).")
def verify_command(file: Path, expected: str | None, as_json: bool) -> None:
    """Check every checksum and safety rule of an archive, applying nothing.

    Gzip integrity and CRC, tar structure (names, member types, sizes, padding,
    end marker, nothing after it), metadata and manifest, each member's size and
    SHA-256, row counts, strict JSON rows and resource limits: the checks a restore
    runs before it touches anything. Exit 0 when the archive is sound, 5 with the
    reason when it is refused.
    """
    sha = None
    if expected is not None:
        match = _SHA256.match(expected.strip())
        if match is None:
            raise click.BadParameter(
                "64 hex digits, optionally prefixed with sha256:", param_hint="--sha256"
            )
        sha = match.group(1).lower()
    verified = _read(file, as_json, sha)
    version_note = ""
    if isinstance(verified.metadata.get("backup_version"), str):
        version_note = f", backup version {verified.metadata['backup_version']}"
    if as_json:
        verdict = {
            "file": str(file),
            "ok": True,
            "size": verified.size,
            "sha256": verified.sha256,
            "checksum": f"sha256:{verified.sha256}",
            "sections": verified.sections,
            "blobs": len(verified.blobs),
            "members": _member_count(verified),
        }
        click.echo(json.dumps(verdict, indent=2))
        return
    click.echo(
        f"OK {file}: {len(verified.sections)} sections, "
        f"{sum(verified.sections.values())} rows, {len(verified.blobs)} blobs, "
        f"{format_bytes(verified.size)}, sha256:{verified.sha256}{version_note}"
    )
