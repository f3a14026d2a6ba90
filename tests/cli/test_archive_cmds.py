"""`cloudbox archive inspect|verify`: offline, on real and hostile archives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cloudbox.archive import ArchiveLimits
from cloudbox.cli.client import EXIT_INVALID_ARCHIVE, EXIT_USAGE
from cloudbox.cli.main import main
from tests.archive.helpers import gz, splice, tarfile_member, valid_members
from tests.archive.test_hostile import CASES
from tests.cli.conftest import Prepared

_DEFAULT_LIMITS = ArchiveLimits()


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def run_process(*args: object) -> subprocess.CompletedProcess[str]:
    """The real command in its own process (what a user runs)."""
    return subprocess.run(
        [sys.executable, "-m", "cloudbox.cli.main", *[str(a) for a in args]],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CLOUDBOX_CONFIG_DIR": "/nonexistent-cloudbox-config"},
    )


# -- a real backup -----------------------------------------------------------------------------


@pytest.mark.e2e
def test_verify_accepts_a_real_backup(prepared: Prepared) -> None:
    result = run_process("archive", "verify", prepared.archive)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK {prepared.archive}")
    assert str(prepared.backup.checksum) in result.stdout


@pytest.mark.e2e
def test_verify_json_and_expected_checksum(prepared: Prepared) -> None:
    result = run(
        "archive", "verify", prepared.archive, "--sha256", prepared.backup.checksum, "--json"
    )
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["ok"] is True
    assert verdict["checksum"] == prepared.backup.checksum
    assert verdict["size"] == prepared.backup.size
    assert verdict["sections"]["documents"] == 3
    assert verdict["blobs"] == 1

    wrong = run("archive", "verify", prepared.archive, "--sha256", "0" * 64, "--json")
    assert wrong.exit_code == EXIT_INVALID_ARCHIVE
    assert json.loads(wrong.stdout)["rule"] == "archive_sha256"
    assert run("archive", "verify", prepared.archive, "--sha256", "xyz").exit_code == EXIT_USAGE


@pytest.mark.e2e
def test_inspect_json(prepared: Prepared) -> None:
    result = run("archive", "inspect", prepared.archive, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["checksum"] == prepared.backup.checksum
    assert info["size"] == prepared.backup.size
    assert info["backup_version"] == "1.0"
    assert info["metadata"]["project_name"] == "Prepared"
    rows = {name: section["rows"] for name, section in info["sections"].items()}
    assert rows == prepared.backup.sections
    assert info["sections"]["documents"]["bytes"] > 0
    assert info["totals"]["blobs"] == 1
    assert info["totals"]["blob_bytes"] == 64 * 1024
    assert info["totals"]["rows"] == sum(prepared.backup.sections.values())
    assert info["expanded_size"] > info["size"] or info["size"] < 4096


@pytest.mark.e2e
def test_inspect_text(prepared: Prepared) -> None:
    result = run_process("archive", "inspect", prepared.archive)
    assert result.returncode == 0, result.stderr
    assert "Sections (" in result.stdout
    assert "documents" in result.stdout and "3 rows" in result.stdout
    assert "Blobs: 1 (64.0 KiB)" in result.stdout


# -- damaged and hostile archives ------------------------------------------------------------------


def _symlink_archive() -> bytes:
    info = tarfile.TarInfo("data/project.ndjson")
    info.type = tarfile.SYMTYPE
    info.linkname = "/etc/passwd"
    return gz(splice(valid_members(), 1, tarfile_member(info)))


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("truncated", "truncated"),
        ("bit_flipped", ""),
        ("trailing_garbage", "after the end"),
        ("symlink_member", "symbolic link"),
    ],
)
def test_verify_refuses_a_damaged_archive(
    damage: str, reason: str, prepared: Prepared, tmp_path: Path
) -> None:
    data = prepared.archive.read_bytes()
    if damage == "truncated":
        broken = data[: len(data) // 2]
    elif damage == "bit_flipped":
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0x10
        broken = bytes(flipped)
    elif damage == "trailing_garbage":
        broken = data + b"garbage after the archive"
    else:
        broken = _symlink_archive()
    path = tmp_path / f"{damage}.tar.gz"
    path.write_bytes(broken)

    result = run_process("archive", "verify", path)
    assert result.returncode == EXIT_INVALID_ARCHIVE, (result.stdout, result.stderr)
    assert result.stderr.startswith(f"REFUSED {path}: ")
    assert reason.lower() in result.stderr.lower()
    assert "INVALID_ARCHIVE" in result.stderr
    inspected = run_process("archive", "inspect", path)
    assert inspected.returncode == EXIT_INVALID_ARCHIVE


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("hostile")
    files = {}
    for case_id, (build, _rule, _exc, limits) in CASES.items():
        if limits is None:  # the CLI reads with the default limits
            path = directory / f"{case_id}.tar.gz"
            path.write_bytes(build())
            files[case_id] = path
    return files


def test_the_hostile_corpus_is_covered(hostile_files: dict[str, Path]) -> None:
    assert len(hostile_files) >= 90
    assert {"symlink", "parent_traversal", "trailing_garbage", "corrupt_crc"} <= set(hostile_files)


@pytest.mark.parametrize("case_id", [case_id for case_id, spec in CASES.items() if spec[3] is None])
def test_verify_refuses_every_hostile_archive(case_id: str, hostile_files: dict[str, Path]) -> None:
    _build, rule, exc_type, _limits = CASES[case_id]
    result = run("archive", "verify", hostile_files[case_id], "--json")
    assert result.exit_code == EXIT_INVALID_ARCHIVE, result.output
    verdict = json.loads(result.stdout)
    assert verdict["ok"] is False
    assert verdict["rule"] == rule
    assert verdict["code"] == exc_type.code
    assert verdict["reason"] and verdict["reason"] in result.stderr


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run("archive", "verify", tmp_path / "nope.tar.gz")
    assert result.exit_code == EXIT_USAGE
    assert "does not exist" in result.stderr
