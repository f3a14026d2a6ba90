"""End-to-end prototype of a two-pass restore, timed against `tar xzf` of the baseline
archive in the same run. SQLite target (a fresh migrated database and blob store).

    .venv/bin/python -m bench.scratch.proto_restore_fast --archive backup.tar.gz \
        --checksum <hex sha256 recorded with the backup> --baseline baseline.tar.gz

Pass A (no transaction): one streaming read checks structure and every member digest
(`parse_on_drain=False`: no JSON), stages every blob into the blob store, and compares the
whole file's SHA-256 with the recorded checksum, which proves the rows are the ones the
writer (or the import's full check) already validated.

Pass B (one write transaction): reads only the sections (they precede the blobs, so the
read stops at the first blob), inserts documents through the DBAPI with executemany
(each line taken apart at its known layout: no JSON decode of `data`, no SQLAlchemy per
row), the other sections as today, takes blob references for files, commits.

Current restore: verify (strict JSON) + plan-and-stage (strict JSON, overlap queries,
blobs) + apply (strict JSON, `decode_row`, SQLAlchemy executemany in batches of 1,000):
three full decompressions and three strict parses of every row.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update

import cloudbox.models  # noqa: F401
from cloudbox.archive import ArchiveLimits, ArchiveReader, VerifiedArchive
from cloudbox.archive.reader import _ArchiveStream
from cloudbox.backups.sections import SPECS_BY_NAME, decode_row
from cloudbox.blobstore.local import LocalBlobStore
from cloudbox.db.base import Base
from cloudbox.db.engine import Database
from cloudbox.db.migrate import upgrade_database
from cloudbox.files.blobrefs import acquire

LIMITS = ArchiveLimits(max_ratio=1e12, max_json_depth=66)
DOC_SQL = (
    "INSERT INTO documents (project_id, collection_id, id, data, version, created_at, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _sqlite_ts(value: str) -> str:
    if len(value) == 20:  # ...T00:00:00Z
        return f"{value[:10]} {value[11:19]}.000000"
    return f"{value[:10]} {value[11:26]}"


def document_tuple(line: bytes, project_id: int) -> tuple[Any, ...]:
    """Take a documents row apart at the layout the writer produces (keys in column
    order); anything else goes through a full parse."""
    s = line.decode()
    if s.startswith('{"collection_id":"'):
        i = s.find('","id":"')
        j = s.find('","data":', i + 8)
        k = s.rfind(',"version":')
        if i > 0 and j > 0 and k > j and "\\" not in s[18:j]:
            tail = json.loads("{" + s[k + 1 :])
            return (
                project_id,
                s[18:i],
                s[i + 8 : j],
                s[j + 9 : k],
                tail["version"],
                _sqlite_ts(tail["created_at"]),
                _sqlite_ts(tail["updated_at"]),
            )
    row = json.loads(s)
    return (
        project_id,
        row["collection_id"],
        row["id"],
        json.dumps(row["data"]),
        row["version"],
        _sqlite_ts(row["created_at"]),
        _sqlite_ts(row["updated_at"]),
    )


def pass_a(path: Path, blobs: LocalBlobStore, checksum: str) -> VerifiedArchive:
    with path.open("rb") as f:
        stream = _ArchiveStream(f, LIMITS, parse_on_drain=False, expected=None)
        for member in stream.members():
            if member.kind == "blob":
                blobs.put_stream(member.chunks(), expected_sha256=member.sha256)
        verified = stream.result()
    if verified.sha256 != checksum:
        raise SystemExit("archive checksum differs from the recorded one")
    return verified


def pass_b(
    db: Database, path: Path, verified: VerifiedArchive, blobs: LocalBlobStore, target: int
) -> Counter[str]:
    inserted: Counter[str] = Counter()
    with db.transaction() as session, path.open("rb") as f:
        raw = session.connection().connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        for member in ArchiveReader(f, verified, LIMITS):
            if member.kind == "metadata":
                continue
            if member.kind != "section":
                break  # sections precede blobs: the rest was verified in pass A
            spec = SPECS_BY_NAME[member.section or ""]
            if spec.name == "project":
                for row in member.rows():
                    projects = Base.metadata.tables["projects"]
                    session.execute(
                        update(projects)
                        .where(projects.c.id == target)
                        .values(settings=row.get("settings") or {})
                    )
                continue
            if spec.name == "documents":
                batch: list[tuple[Any, ...]] = []
                for line in member._line_iter():
                    batch.append(document_tuple(line, target))
                    if len(batch) >= 10_000:
                        cur.executemany(DOC_SQL, batch)
                        inserted["documents"] += len(batch)
                        batch.clear()
                if batch:
                    cur.executemany(DOC_SQL, batch)
                    inserted["documents"] += len(batch)
                continue
            values = [decode_row(spec, r, target) for r in member.rows()]
            if spec.name == "audit_logs":
                for v in values:
                    v["imported"] = True
            if spec.name == "files":
                for sha, count in Counter(v["sha256"] for v in values).items():
                    size = next(v["size"] for v in values if v["sha256"] == sha)
                    acquire(session, blobs, sha, int(size), count)
            if values:
                session.execute(insert(spec.table), values)
            inserted[spec.name] += len(values)
    return inserted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, required=True)
    parser.add_argument("--checksum", required=True)
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="proto-fast-"))
    try:
        url = f"sqlite:///{work / 'target.db'}"
        upgrade_database(url)
        db = Database(url)
        projects = Base.metadata.tables["projects"]
        times: list[tuple[float, float, float, float]] = []
        for r in range(args.rounds):
            with db.transaction() as session:
                target = int(
                    session.execute(
                        insert(projects)
                        .values(name=f"target {r}", description="", settings={})
                        .returning(projects.c.id)
                    ).scalar_one()
                )
            blob_root = work / f"blobs-{r}"
            blobs = LocalBlobStore(blob_root)
            start = time.perf_counter()
            verified = pass_a(args.archive, blobs, args.checksum)
            mid = time.perf_counter()
            inserted = pass_b(db, args.archive, verified, blobs, target)
            end = time.perf_counter()
            dest = work / f"xzf-{r}"
            dest.mkdir()
            t0 = time.perf_counter()
            subprocess.run(["tar", "xzf", str(args.baseline), "-C", str(dest)], check=True)
            tar = time.perf_counter() - t0
            shutil.rmtree(dest)
            shutil.rmtree(blob_root)
            expected = {k: v for k, v in verified.sections.items() if v and k != "project"}
            got = {k: inserted.get(k, 0) for k in expected}
            if got != expected:
                raise SystemExit(f"inserted {got}, archive holds {expected}")
            times.append((mid - start, end - mid, end - start, tar))
            print(
                f"  round {r + 1}: pass A {mid - start:.2f} s, pass B {end - mid:.2f} s, "
                f"total {end - start:.2f} s; tar xzf {tar:.2f} s: "
                f"{(end - start) / tar:.2f}x the time ({inserted['documents']:,} documents, "
                f"{inserted['documents'] / (end - mid):,.0f}/s in pass B)"
            )
        db.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
