"""Hostile and corrupt archives against the server (issue: restore, "Hostile archives" and
"Corruption"; issue: backups, "Import").

Every hostile archive goes through the import endpoint, `POST
/api/projects/{id}/backups/import`, and must be refused with 422 `INVALID_ARCHIVE` (or
`UNSUPPORTED_BACKUP_VERSION`) leaving nothing behind: no backup row, no archive file, no
file anywhere under the data directory, the project unchanged. A corrupted *stored*
archive must be refused by the restore with the target unchanged.

Two sources of hostile archives:
- the archive reader's own corpus (`tests/archive/test_hostile.py`), every case the
  server's import limits refuse, each expected to fail for exactly the reader's reason;
- the same rules broken inside a real archive this server wrote (downloaded, taken apart
  and rebuilt with `tests/archive/helpers.py`), so each case is otherwise importable and
  restorable: the one broken rule is what the server refuses.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
import time
import tracemalloc
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from isal import isal_zlib
from sqlalchemy import select

import tests.restores.test_faults as faults
from cloudbox.archive import ArchiveLimits, InvalidArchive, UnsupportedVersion, verify_archive
from cloudbox.backups import service as backup_service
from cloudbox.backups.models import Backup
from cloudbox.runtime import Runtime
from tests.archive import helpers as H
from tests.archive import test_hostile as reader_corpus
from tests.plugins.api import Account, assert_error
from tests.plugins.jobs import completed_backup
from tests.plugins.populate import canonical_dump

IMPORT_TIMEOUT = 60.0
#: the checks of an upload are the reader's and the blob store's, not the database's: the
#: long loops run on SQLite in the quick suite and on PostgreSQL in the slow one
READER_LOOP = pytest.mark.parametrize(
    "database_url",
    [
        "sqlite",
        pytest.param("postgresql", marks=[pytest.mark.integration, pytest.mark.slow]),
    ],
    indirect=True,
)


def import_limits() -> ArchiveLimits:
    limits_for = getattr(backup_service, "archive_limits_for", None)
    return limits_for("import") if limits_for else ArchiveLimits()


# -- the real archive, taken apart ----------------------------------------------------------


@dataclass
class Real:
    """A tiny project, its completed backup, and that archive's members (manifest aside)."""

    account: Account
    runtime: Runtime
    pid: int
    backup: dict[str, Any]
    data: bytes
    members: list[tuple[str, bytes]]

    def build(
        self,
        members: list[tuple[str, bytes]] | None = None,
        *,
        manifest_bytes: bytes | None = None,
        end: bytes = H.END,
    ) -> bytes:
        return H.gz(
            H.raw_tar(
                self.members if members is None else members, manifest_bytes=manifest_bytes, end=end
            )
        )

    def section(self, name: str) -> bytes:
        return dict(self.members)[f"data/{name}.ndjson"]

    def rows(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.section(name).splitlines()]

    def replaced(self, name: str, data: bytes) -> list[tuple[str, bytes]]:
        member = f"data/{name}.ndjson"
        assert member in dict(self.members)
        return [(n, data if n == member else d) for n, d in self.members]

    def with_rows(self, name: str, rows: list[dict[str, Any]]) -> bytes:
        return self.build(self.replaced(name, H.ndjson(rows)))

    def metadata(self) -> dict[str, Any]:
        return json.loads(dict(self.members)["metadata.json"])

    def with_metadata(self, **changes: Any) -> list[tuple[str, bytes]]:
        meta = {**self.metadata(), **changes}
        return [("metadata.json", json.dumps(meta).encode()), *self.members[1:]]

    def insert(self, index: int, raw: bytes) -> bytes:
        return H.gz(H.splice(self.members, index, raw))

    @property
    def first_blob(self) -> int:
        return next(i for i, (n, _) in enumerate(self.members) if n.startswith("blobs/"))


def take_apart(data: bytes) -> list[tuple[str, bytes]]:
    members = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for info in tar:
            handle = tar.extractfile(info)
            assert handle is not None
            members.append((info.name, handle.read()))
    assert members[0][0] == "metadata.json" and members[-1][0] == "manifest.json"
    return members[:-1]


def make_real(account: Account, runtime: Runtime, pid: int) -> Real:
    faults.tiny_project(account, pid)
    backup = completed_backup(account, pid)
    download = account.get(f"/api/backups/{backup['id']}/download")
    assert download.status_code == 200
    return Real(account, runtime, pid, backup, download.content, take_apart(download.content))


@pytest.fixture
def real(account: Account, project: dict[str, Any], runtime: Runtime) -> Real:
    return make_real(account, runtime, project["id"])


# -- "nothing written" -------------------------------------------------------------------

_DB_FILES = (".db", ".db-wal", ".db-shm", ".db-journal")


def tree(root: Path) -> dict[str, str]:
    """Every file under the data directory, with a digest of its bytes (database files:
    their names only, since their pages change with every request)."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_dir():
            continue
        rel = str(path.relative_to(root))
        if path.name.endswith(_DB_FILES) or path.suffix == ".log":
            out[rel] = "db"
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@dataclass
class Footprint:
    files: dict[str, str]
    backups: list[tuple[int, str]]
    dump: dict[str, Any]


def footprint(runtime: Runtime, pid: int) -> Footprint:
    with runtime.db.session() as db:
        backups = [
            (i, s) for i, s in db.execute(select(Backup.id, Backup.status).order_by(Backup.id))
        ]
    return Footprint(tree(runtime.settings.data_dir), backups, canonical_dump(runtime, pid))


def assert_nothing_written(runtime: Runtime, pid: int, before: Footprint, case: str) -> None:
    after = footprint(runtime, pid)
    assert after.backups == before.backups, f"{case}: a backup row was left behind"
    assert after.dump == before.dump, f"{case}: the project changed"
    created = sorted(set(after.files) - set(before.files))
    changed = sorted(k for k in before.files if after.files.get(k) != before.files[k])
    assert not created, f"{case}: files created: {created}"
    assert not changed, f"{case}: files changed or removed: {changed}"


def post_import(account: Account, pid: int, data: bytes, *, sha256: str | None = None) -> Any:
    form = {"sha256": sha256} if sha256 else {}
    return account.post(
        f"/api/projects/{pid}/backups/import",
        files={"file": ("backup.tar.gz", data, "application/gzip")},
        data=form,
    )


def timed_import(account: Account, pid: int, data: bytes, **kw: Any) -> tuple[Any, float]:
    """One import with a hard per-request timeout: a hang fails the test, it does not
    stall the suite."""
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(post_import, account, pid, data, **kw)
        response = future.result(timeout=IMPORT_TIMEOUT)
    return response, time.monotonic() - started


def expect_refused(
    real: Real,
    case: str,
    data: bytes,
    code: str = "INVALID_ARCHIVE",
    reason: str | None = None,
    *,
    reason_part: str | None = None,
) -> dict[str, Any]:
    before = footprint(real.runtime, real.pid)
    response, elapsed = timed_import(real.account, real.pid, data)
    assert elapsed < IMPORT_TIMEOUT, f"{case}: took {elapsed:.1f}s"
    assert response.status_code == 422, f"{case}: {response.status_code} {response.text[:300]}"
    body = assert_error(response, 422, code)
    details_reason = body["error"]["details"].get("reason")
    assert isinstance(details_reason, str) and details_reason, f"{case}: no reason given"
    if reason is not None:
        assert details_reason == reason, f"{case}: refused for another reason"
    if reason_part is not None:
        assert reason_part in details_reason, f"{case}: refused for {details_reason!r}"
    assert "/tmp" not in response.text and str(real.runtime.settings.data_dir) not in response.text
    assert_nothing_written(real.runtime, real.pid, before, case)
    return body


# -- corpus 1: the reader's own hostile archives -------------------------------------------


def reader_cases() -> dict[str, tuple[bytes, str, str]]:
    """Every case of the reader's corpus the server's import limits refuse:
    id -> (archive, expected code, expected reason)."""
    limits = import_limits()
    out: dict[str, tuple[bytes, str, str]] = {}
    for case_id, (build, _rule, _exc, case_limits) in reader_corpus.CASES.items():
        if case_limits is not None:
            continue  # built against tiny limits; corpus 2 breaks the server's own limits
        data = build()
        try:
            verify_archive(io.BytesIO(data), limits)
        except UnsupportedVersion as exc:
            out[case_id] = (data, "UNSUPPORTED_BACKUP_VERSION", exc.reason)
        except InvalidArchive as exc:
            out[case_id] = (data, "INVALID_ARCHIVE", exc.reason)
        else:
            raise AssertionError(f"{case_id} is accepted by the reader with the import limits")
    return out


@READER_LOOP
def test_reader_corpus_is_refused_by_import_with_nothing_written(real: Real) -> None:
    cases = reader_cases()
    assert len(cases) >= 60
    for case_id, (data, code, reason) in cases.items():
        expect_refused(real, case_id, data, code, reason)


# -- corpus 2: each rule broken inside a real archive ------------------------------------------


def _bomb(real: Real, size: int) -> bytes:
    """The real archive plus one blob of `size` zero bytes, compressed ~1000:1: a
    decompression bomb whose every header, digest and manifest entry is correct."""
    zeros = bytes(2**20)
    digest = hashlib.sha256()
    for _ in range(size // len(zeros)):
        digest.update(zeros)
    name = f"blobs/{digest.hexdigest()}"
    listing = json.loads(H.manifest(real.members))
    listing["members"].append({"name": name, "size": size, "sha256": digest.hexdigest()})
    listing["blob_count"] += 1
    listing["blob_bytes"] += size
    compressor = isal_zlib.compressobj(3, isal_zlib.DEFLATED, 31)
    parts = [compressor.compress(b"".join(H.member(n, d) for n, d in real.members))]
    parts.append(compressor.compress(H.header(name, size)))
    for _ in range(size // len(zeros)):
        parts.append(compressor.compress(zeros))
    parts.append(compressor.compress(H.member("manifest.json", json.dumps(listing).encode())))
    parts.append(compressor.compress(H.END))
    parts.append(compressor.flush())
    return b"".join(parts)


def _unlisted_blob(real: Real) -> bytes:
    extra = (f"blobs/{H.sha(b'extra')}", b"extra")
    return real.build([*real.members, extra], manifest_bytes=H.manifest(real.members))


def _missing_blob(real: Real) -> bytes:
    without = [m for i, m in enumerate(real.members) if i != real.first_blob]
    return real.build(without, manifest_bytes=H.manifest(real.members))


def _edited_manifest(real: Real) -> bytes:
    listing = json.loads(H.manifest(real.members))
    listing["sections"]["documents"]["rows"] += 1
    for entry in listing["members"]:
        if entry["name"] == "data/documents.ndjson":
            entry["rows"] += 1
    return real.build(manifest_bytes=json.dumps(listing).encode())


def _manifest_sha(real: Real) -> bytes:
    listing = json.loads(H.manifest(real.members))
    listing["members"][1]["sha256"] = H.sha(b"something else")
    return real.build(manifest_bytes=json.dumps(listing).encode())


def _manifest_size(real: Real) -> bytes:
    listing = json.loads(H.manifest(real.members))
    listing["members"][1]["size"] += 1
    return real.build(manifest_bytes=json.dumps(listing).encode())


def _info(name: str, kind: bytes, **attrs: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def _doc_rows(real: Real, change: Callable[[dict[str, Any]], None]) -> bytes:
    rows = real.rows("documents")
    change(rows[0])
    return real.with_rows("documents", rows)


def _line(real: Real, section: str, line: bytes) -> bytes:
    return real.build(real.replaced(section, real.section(section) + line))


#: why each case of `real_cases` must be refused (a fragment of the reason given)
WHY = {
    "absolute_path": "absolute member name",
    "absolute_blob_path": "absolute member name",
    "parent_traversal": "'..' in member name",
    "parent_traversal_blob": "'..' in member name",
    "symlink": "symbolic link",
    "symlink_blob": "symbolic link",
    "hardlink": "hard link",
    "char_device": "character device",
    "block_device": "block device",
    "fifo": "FIFO",
    "duplicate_member": "duplicate member",
    "duplicate_section": "duplicate member",
    "extra_member_not_in_manifest": "not listed in manifest.json",
    "missing_member": "which is not in",
    "unknown_section": "unknown section",
    "unknown_section_declared": "known sections",
    "truncated_gzip": "truncated",
    "truncated_gzip_trailer": "truncated",
    "corrupt_gzip_crc": "CRC",
    "appended_byte": "after the end of the compressed stream",
    "appended_gzip_member": "after the tar end-of-archive marker",
    "manifest_missing": "manifest.json is missing",
    "manifest_not_json": "manifest.json is not valid",
    "manifest_not_object": "not a JSON object",
    "manifest_edited_rows": "row count differs",
    "manifest_sha_mismatch": "SHA-256 differs",
    "manifest_size_mismatch": "size differs",
    "row_not_object": "not a JSON object",
    "row_string": "not a JSON object",
    "row_nan": "NaN",
    "row_infinity": "Infinity",
    "row_invalid_utf8": "UTF-8",
    "row_too_deep": "nesting deeper",
    "row_very_deep": "nesting deeper",
    "row_line_too_long": "line longer than",
    "row_duplicate_key": "duplicate key",
    "row_foreign_project_id": "unknown columns ['project_id']",
    "row_unknown_column": "unknown columns",
    "document_in_missing_collection": "refers to a row of collections",
    "file_in_missing_bucket": "refers to a row of storage_buckets",
    "file_without_its_blob": "refers to a blob",
    "domain_of_missing_function": "refers to a row of functions",
    "bad_timestamp": "isoformat",
    "version_2_0": "newer than this server supports",
    "version_garbage": "backup_version",
    "bomb_declared_100_gib_member": "is larger than",
    "bomb_zeros_1_gib": "compression ratio exceeds",
}


def real_cases(real: Real, other_pid: int) -> dict[str, tuple[Callable[[], bytes], str]]:
    """Hostile variants of the real archive: id -> (builder, expected code)."""
    depth = import_limits().max_json_depth
    long_line = b'{"id":"x","data":"' + b"x" * (import_limits().max_line_bytes + 10) + b'"}\n'
    blob = real.first_blob
    files = real.rows("files")
    invalid = "INVALID_ARCHIVE"
    cases: dict[str, tuple[Callable[[], bytes], str]] = {
        # names
        "absolute_path": (lambda: real.insert(1, H.member("/etc/cron.d/evil", b"x")), invalid),
        "absolute_blob_path": (
            lambda: real.insert(blob, H.member("/" + real.members[blob][0], b"x")),
            invalid,
        ),
        "parent_traversal": (
            lambda: real.insert(1, H.member("data/../../../etc/passwd", b"x")),
            invalid,
        ),
        "parent_traversal_blob": (
            lambda: real.insert(blob, H.member("blobs/../../evil", b"x")),
            invalid,
        ),
        # links of any kind, devices, FIFOs
        "symlink": (
            lambda: real.insert(
                1,
                H.tarfile_member(
                    _info("data/auth_settings.ndjson", tarfile.SYMTYPE, linkname="/etc/passwd")
                ),
            ),
            invalid,
        ),
        "symlink_blob": (
            lambda: real.insert(
                blob,
                H.tarfile_member(
                    _info("blobs/" + "0" * 64, tarfile.SYMTYPE, linkname="../../cloudbox.db")
                ),
            ),
            invalid,
        ),
        "hardlink": (
            lambda: real.insert(
                1,
                H.tarfile_member(
                    _info("data/auth_settings.ndjson", tarfile.LNKTYPE, linkname="metadata.json")
                ),
            ),
            invalid,
        ),
        "char_device": (
            lambda: real.insert(
                blob,
                H.tarfile_member(
                    _info("blobs/" + "1" * 64, tarfile.CHRTYPE, devmajor=1, devminor=3)
                ),
            ),
            invalid,
        ),
        "block_device": (
            lambda: real.insert(
                blob,
                H.tarfile_member(
                    _info("blobs/" + "2" * 64, tarfile.BLKTYPE, devmajor=8, devminor=0)
                ),
            ),
            invalid,
        ),
        "fifo": (
            lambda: real.insert(
                1, H.tarfile_member(_info("data/auth_settings.ndjson", tarfile.FIFOTYPE))
            ),
            invalid,
        ),
        # members
        "duplicate_member": (lambda: real.build([*real.members, real.members[blob]]), invalid),
        "duplicate_section": (
            lambda: real.build([*real.members[:2], real.members[1], *real.members[2:]]),
            invalid,
        ),
        "extra_member_not_in_manifest": (lambda: _unlisted_blob(real), invalid),
        "missing_member": (lambda: _missing_blob(real), invalid),
        "unknown_section": (
            lambda: real.insert(blob, H.member("data/secrets.ndjson", b'{"a":1}\n')),
            invalid,
        ),
        "unknown_section_declared": (
            lambda: real.build(
                real.with_metadata(sections=[*real.metadata()["sections"], "secrets"])
            ),
            invalid,
        ),
        # gzip
        "truncated_gzip": (lambda: real.build()[: len(real.build()) // 2], invalid),
        "truncated_gzip_trailer": (lambda: real.build()[:-4], invalid),
        "corrupt_gzip_crc": (lambda: _flip(real.build(), -8), invalid),
        "appended_byte": (lambda: real.build() + b"\x00", invalid),
        "appended_gzip_member": (
            lambda: real.build() + H.gz(H.member("data/users.ndjson", b"{}\n") + H.END),
            invalid,
        ),
        # manifest
        "manifest_missing": (lambda: H.gz(H.raw_tar(real.members, with_manifest=False)), invalid),
        "manifest_not_json": (lambda: real.build(manifest_bytes=b"{not json"), invalid),
        "manifest_not_object": (lambda: real.build(manifest_bytes=b"[1]"), invalid),
        "manifest_edited_rows": (lambda: _edited_manifest(real), invalid),
        "manifest_sha_mismatch": (lambda: _manifest_sha(real), invalid),
        "manifest_size_mismatch": (lambda: _manifest_size(real), invalid),
        # rows
        "row_not_object": (lambda: _line(real, "documents", b"[1,2]\n"), invalid),
        "row_string": (lambda: _line(real, "documents", b'"just a string"\n'), invalid),
        "row_nan": (lambda: _line(real, "documents", b'{"id":"n","data":NaN}\n'), invalid),
        "row_infinity": (
            lambda: _line(real, "documents", b'{"id":"n","data":{"x":-Infinity}}\n'),
            invalid,
        ),
        "row_invalid_utf8": (lambda: _line(real, "documents", b'{"id":"\xff\xfe"}\n'), invalid),
        "row_too_deep": (
            lambda: _line(
                real, "documents", b'{"data":' + b"[" * (depth + 1) + b"]" * (depth + 1) + b"}\n"
            ),
            invalid,
        ),
        "row_very_deep": (
            lambda: _line(
                real, "documents", b'{"data":' + b"[" * 200_000 + b"]" * 200_000 + b"}\n"
            ),
            invalid,
        ),
        "row_line_too_long": (lambda: _line(real, "documents", long_line), invalid),
        "row_duplicate_key": (lambda: _line(real, "documents", b'{"id":"a","id":"b"}\n'), invalid),
        # references to other projects' rows, or to rows the archive does not hold
        "row_foreign_project_id": (
            lambda: _doc_rows(real, lambda r: r.update(project_id=other_pid)),
            invalid,
        ),
        "row_unknown_column": (
            lambda: _doc_rows(real, lambda r: r.update(owner_project=other_pid)),
            invalid,
        ),
        "document_in_missing_collection": (
            lambda: _doc_rows(real, lambda r: r.update(collection_id="not-in-archive")),
            invalid,
        ),
        "file_in_missing_bucket": (
            lambda: real.with_rows(
                "files", [{**files[0], "bucket_id": "not-in-archive"}, *files[1:]]
            ),
            invalid,
        ),
        "file_without_its_blob": (
            lambda: real.with_rows(
                "files", [{**files[0], "sha256": H.sha(b"no such blob")}, *files[1:]]
            ),
            invalid,
        ),
        "domain_of_missing_function": (
            lambda: real.with_rows(
                "function_domains",
                [{**r, "function_id": "not-in-archive"} for r in real.rows("function_domains")],
            ),
            invalid,
        ),
        "bad_timestamp": (
            lambda: _doc_rows(real, lambda r: r.update(created_at="yesterday")),
            invalid,
        ),
        # versions
        "version_2_0": (
            lambda: real.build(
                real.with_metadata(backup_version="2.0"),
                manifest_bytes=H.manifest(
                    real.with_metadata(backup_version="2.0"), backup_version="2.0"
                ),
            ),
            "UNSUPPORTED_BACKUP_VERSION",
        ),
        "version_garbage": (
            lambda: real.build(real.with_metadata(backup_version="1.0; rm -rf")),
            invalid,
        ),
        # decompression bombs
        "bomb_declared_100_gib_member": (
            lambda: H.gz(H.splice(real.members, blob, H.header("blobs/" + "3" * 64, 100 * 2**30))),
            invalid,
        ),
        "bomb_zeros_1_gib": (lambda: _bomb(real, 2**30), invalid),
    }
    return cases


def _flip(data: bytes, offset: int, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[offset] ^= 1 << bit
    return bytes(out)


def test_real_archive_rebuilt_is_importable_and_restorable(real: Real) -> None:
    """The control for corpus 2: the rebuilt archive, untouched, is accepted."""
    response, _ = timed_import(real.account, real.pid, real.build())
    assert response.status_code == 201, response.text
    imported = response.json()
    assert imported["status"] == "completed"
    restored = real.account.post(
        f"/api/backups/{imported['id']}/restore", json={"pre_restore_backup": False}
    )
    assert restored.status_code == 200, restored.text


def test_hostile_archives_inside_a_real_archive_are_refused(real: Real) -> None:
    other = real.account.create_project("Other")
    cases = real_cases(real, other["id"])
    assert len(cases) >= 30
    process = psutil.Process()
    for case_id, (build, code) in cases.items():
        data = build()
        if case_id.startswith("bomb_zeros"):
            rss_before = process.memory_info().rss
            tracemalloc.start()
            try:
                expect_refused(real, case_id, data, code, reason_part=WHY[case_id])
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            grown = process.memory_info().rss - rss_before
            # 1 GiB expands from ~1 MiB: memory stays flat (chunks, not the member)
            assert peak < 64 * 2**20, f"{case_id}: Python allocations peaked at {peak >> 20} MiB"
            assert grown < 256 * 2**20, f"{case_id}: RSS grew by {grown >> 20} MiB"
        else:
            expect_refused(real, case_id, data, code, reason_part=WHY[case_id])


def test_archive_from_another_master_key_imports_but_never_restores(real: Real) -> None:
    """Well-formed, made under another MASTER_KEY (its fingerprint): importing is fine,
    restoring answers 422 MASTER_KEY_MISMATCH before anything is written — not even its
    blobs are staged."""
    novel = b"a blob only this archive holds"
    members = real.with_metadata(key_fingerprint="sha256:" + "ab" * 32)
    members.append((f"blobs/{H.sha(novel)}", novel))
    response, _ = timed_import(real.account, real.pid, real.build(members))
    assert response.status_code == 201, response.text
    imported = response.json()
    faults.mutate(real.account, real.pid)
    before = faults.state(real.runtime, real.pid)
    files_before = tree(real.runtime.settings.data_dir / "blobs")
    restored = real.account.post(f"/api/backups/{imported['id']}/restore", json={})
    assert_error(restored, 422, "MASTER_KEY_MISMATCH")
    faults.assert_unchanged(real.runtime, real.pid, before)
    assert tree(real.runtime.settings.data_dir / "blobs") == files_before
    assert not real.runtime.blobs.exists(H.sha(novel))
    with real.runtime.db.session() as db:
        pre = db.scalars(select(Backup).where(Backup.type == "pre-restore")).all()
    assert pre == [], "a pre-restore backup was taken although the restore could not run"


def _document_line(real: Real, data: Any, length: int | None = None) -> bytes:
    """A document row of the real archive (its collection exists) with `data`; with
    `length`, padded so the line (newline excluded) is exactly that long."""
    row = {**real.rows("documents")[0], "id": "edge", "data": data}
    line = json.dumps(row, separators=(",", ":")).encode()
    if length is not None:
        row["data"] = {"pad": ""}
        bare = len(json.dumps(row, separators=(",", ":")).encode())
        row["data"] = {"pad": "x" * (length - bare)}
        line = json.dumps(row, separators=(",", ":")).encode()
        assert len(line) == length
    return line + b"\n"


@READER_LOOP
def test_import_limits_at_the_edge(real: Real) -> None:
    """Each limit an upload is held to: at the limit accepted, one past it refused."""
    limits = import_limits()

    def nested(depth: int) -> Any:  # a row of depth `depth`: the row object wraps data
        value: Any = []
        for _ in range(depth - 2):
            value = [value]
        return value

    edges = {
        "json depth": (nested(limits.max_json_depth), nested(limits.max_json_depth + 1), None),
        "line length": (None, None, limits.max_line_bytes),
    }
    for name, (at_limit, past_limit, length) in edges.items():
        if length is None:
            ok_line, bad_line = _document_line(real, at_limit), _document_line(real, past_limit)
        else:
            ok_line = _document_line(real, None, length)
            bad_line = _document_line(real, None, length + 1)
        response, _ = timed_import(real.account, real.pid, _line(real, "documents", ok_line))
        assert response.status_code == 201, f"{name} at the limit: {response.text[:300]}"
        assert real.account.delete(f"/api/backups/{response.json()['id']}").status_code == 204
        expect_refused(real, f"{name} past the limit", _line(real, "documents", bad_line))


# -- corruption of a valid archive ------------------------------------------------------------


def _decompresses_to(data: bytes, expected: bytes) -> bool:
    try:
        return gzip.decompress(data) == expected
    except (OSError, EOFError, zlib.error):
        return False


@READER_LOOP
def test_bit_flips_and_truncations_are_refused_by_import(real: Real) -> None:
    """100 single-bit flips at seeded random offsets and 20 truncations of a valid archive.

    A flip that leaves the decompressed tar byte-identical (gzip header timestamp, unused
    deflate bits) is the same archive and may be accepted; every other one is refused
    with nothing written. Given the archive's SHA-256 with the upload, every flip is
    refused."""
    data = real.build()
    tar = gzip.decompress(data)
    rng = random.Random(20240501)
    same = 0
    for n in range(100):
        offset = rng.randrange(len(data))
        bit = rng.randrange(8)
        flipped = _flip(data, offset, bit)
        case = f"flip #{n} at {offset}.{bit}"
        if _decompresses_to(flipped, tar):
            same += 1
            response, _ = timed_import(real.account, real.pid, flipped, sha256=H.sha(data))
            assert_error(response, 422, "INVALID_ARCHIVE")
            continue
        expect_refused(real, case, flipped)
    assert same < 10, "too few flips hit the archive's content to mean anything"
    for n in range(20):
        cut = rng.randrange(len(data))
        expect_refused(real, f"truncation #{n} to {cut}", data[:cut])


@pytest.mark.parametrize("beside", [False, True], ids=["proof-first", "proof-beside-apply"])
def test_corrupted_stored_archive_is_refused_by_restore(real: Real, beside: bool) -> None:
    """The archive of a completed backup is corrupted on disk: 10 bit flips, 5
    truncations, an extra member, a missing member, an appended byte, an edited manifest.
    Each restore answers 422 INVALID_ARCHIVE and the target stays exactly as it was:
    with a pre-restore backup (the archive is proven before anything is written) and
    without one (the proof runs beside the apply, which has inserted rows by the time a
    flip among the blobs or a truncation is found, and rolls them back)."""
    options = {"pre_restore_backup": False} if beside else {}
    path = real.runtime.archives.local_path(real.backup["file_path"])
    assert path is not None
    original = path.read_bytes()
    faults.mutate(real.account, real.pid)
    before = faults.state(real.runtime, real.pid)
    rng = random.Random(7)
    corruptions: dict[str, bytes] = {}
    for n in range(10):
        offset = rng.randrange(len(original))
        corruptions[f"flip {n} at {offset}"] = _flip(original, offset, rng.randrange(8))
    for _ in range(5):
        cut = rng.randrange(len(original))
        corruptions[f"truncated to {cut}"] = original[:cut]
    corruptions["extra member"] = _unlisted_blob(real)
    corruptions["missing member"] = _missing_blob(real)
    corruptions["appended byte"] = original + b"\n"
    corruptions["edited manifest"] = _edited_manifest(real)
    try:
        for case, corrupt in corruptions.items():
            path.write_bytes(corrupt)
            response = real.account.post(f"/api/backups/{real.backup['id']}/restore", json=options)
            body = assert_error(response, 422, "INVALID_ARCHIVE")
            assert str(path) not in response.text, case
            restore_id = body["error"]["details"]["restore_id"]
            row = faults.restore_row(real.runtime, restore_id)
            assert row.status == "failed" and row.error_code == "INVALID_ARCHIVE", case
            before = faults.assert_unchanged(real.runtime, real.pid, before)
        with real.runtime.db.session() as db:
            pre = db.scalars(select(Backup).where(Backup.type == "pre-restore")).all()
        assert pre == [], "a pre-restore backup was taken of a restore that could not run"
    finally:
        path.write_bytes(original)
    done = real.account.post(f"/api/backups/{real.backup['id']}/restore", json={})
    assert done.status_code == 200, done.text


# -- fuzz ---------------------------------------------------------------------------------------


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        kind = rng.choice(("flip", "flip", "insert", "delete", "truncate", "byte"))
        if not out:
            break
        at = rng.randrange(len(out))
        if kind == "flip":
            out[at] ^= 1 << rng.randrange(8)
        elif kind == "byte":
            out[at] = rng.randrange(256)
        elif kind == "insert":
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.choice((1, 1, 4, 512))))
        elif kind == "delete":
            del out[at : at + rng.choice((1, 1, 7, 512, 4096))]
        else:
            del out[at:]
    return bytes(out)


def fuzz(real: Real, iterations: int, seed: int) -> dict[str, Any]:
    data = real.build()
    rng = random.Random(seed)
    counts: dict[int, int] = {}
    slowest = 0.0
    started = time.monotonic()
    for n in range(iterations):
        mutated = mutate_bytes(data, rng)
        response, elapsed = timed_import(real.account, real.pid, mutated)
        slowest = max(slowest, elapsed)
        status = response.status_code
        counts[status] = counts.get(status, 0) + 1
        assert status < 500, f"mutation #{n}: {status} {response.text[:300]}"
        if status == 201:
            backup = response.json()
            restored = real.account.post(
                f"/api/backups/{backup['id']}/restore", json={"pre_restore_backup": False}
            )
            assert restored.status_code == 200, f"mutation #{n}: {restored.text[:300]}"
            assert real.account.delete(f"/api/backups/{backup['id']}").status_code == 204
        else:
            body = response.json()
            assert set(body) == {"error"} and body["error"]["code"], (n, body)
            assert status in (400, 413, 415, 422), (n, status, body)
    return {
        "counts": counts,
        "slowest": slowest,
        "seconds": time.monotonic() - started,
    }


@READER_LOOP
def test_fuzzed_imports_never_fail_the_server(real: Real) -> None:
    result = fuzz(real, 200, seed=1)
    assert result["counts"].get(422, 0) > 150, result


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_fuzzed_imports_2000(real: Real) -> None:
    result = fuzz(real, 2000, seed=2)
    assert result["counts"].get(422, 0) > 1500, result
