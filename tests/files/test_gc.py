"""Blob references and garbage collection: shared blobs, the grace period, orphans, and
the races between the collector and uploads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, update

from cloudbox.app import create_app
from cloudbox.blobstore import BlobInfo, BlobStore
from cloudbox.blobstore.local import LocalBlobStore
from cloudbox.config import Settings
from cloudbox.db.engine import Database
from cloudbox.db.migrate import upgrade_database
from cloudbox.db.types import utcnow
from cloudbox.files import blobrefs
from cloudbox.files import service as files_service
from cloudbox.files.errors import FileNotFound, StorageRetry
from cloudbox.files.gc import GcReport, collect_garbage, start_periodic_gc
from cloudbox.files.models import Blob, File
from cloudbox.runtime import Runtime
from tests.files.helpers import base, counts, create_bucket, refcount, sha, upload, uploaded
from tests.plugins.api import MASTER_KEY, Account, assert_error

GRACE = timedelta(seconds=60)
LONG_AGO = 3600.0


def local(runtime: Runtime) -> LocalBlobStore:
    assert isinstance(runtime.blobs, LocalBlobStore)
    return runtime.blobs


def age_file(store: LocalBlobStore, digest: str, seconds: float = LONG_AGO) -> None:
    then = time.time() - seconds
    os.utime(store.path_for(digest), (then, then))


def age_row(runtime: Runtime, digest: str, seconds: float = LONG_AGO) -> None:
    with runtime.db.transaction() as db:
        db.execute(
            update(Blob)
            .where(Blob.sha256 == digest)
            .values(last_seen_at=utcnow() - timedelta(seconds=seconds))
        )


def gc(runtime: Runtime, **kw: Any) -> GcReport:
    return collect_garbage(runtime.db.transaction, runtime.blobs, GRACE, **kw)


def put_orphan(runtime: Runtime, content: bytes) -> str:
    return runtime.blobs.put_stream([content]).sha256


def test_shared_blobs_and_collection_after_grace(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    store = local(runtime)
    create_bucket(account, pid, "docs")
    shared, lonely = b"same bytes" * 1000, b"deleted soon"
    first = uploaded(account, pid, "docs", shared, filename="one")
    second = uploaded(account, pid, "docs", shared, filename="two")
    assert counts(runtime)["stored"] == 1 and counts(runtime)["blobs"] == 1
    assert refcount(runtime, sha(shared)) == 2

    assert account.delete(f"{base(pid)}/buckets/docs/files/{first['id']}").status_code == 204
    assert refcount(runtime, sha(shared)) == 1
    content = account.get(f"{base(pid)}/buckets/docs/files/{second['id']}/content")
    assert content.content == shared

    gone = uploaded(account, pid, "docs", lonely)
    assert account.delete(f"{base(pid)}/buckets/docs/files/{gone['id']}").status_code == 204
    assert refcount(runtime, sha(lonely)) == 0
    old_orphan = put_orphan(runtime, b"crashed before commit")
    young_orphan = put_orphan(runtime, b"upload still committing")
    age_file(store, old_orphan)
    # the referenced blob looks ancient everywhere; its reference alone must keep it
    age_row(runtime, sha(shared))
    age_file(store, sha(shared))

    dry = gc(runtime, dry_run=True)
    assert (dry.unreferenced_deleted, dry.orphans_deleted) == (0, 1)
    assert store.exists(old_orphan)

    report = gc(runtime)
    assert (report.unreferenced_deleted, report.orphans_deleted, report.errors) == (0, 1, 0)
    assert report.bytes_freed == len(b"crashed before commit")
    assert not store.exists(old_orphan) and store.exists(young_orphan)
    assert store.exists(sha(lonely)), "unreferenced but inside the grace period"
    assert store.exists(sha(shared))

    age_row(runtime, sha(lonely))
    report = gc(runtime)
    assert (report.unreferenced_deleted, report.orphans_deleted) == (1, 0)
    assert not store.exists(sha(lonely)) and refcount(runtime, sha(lonely)) is None
    assert store.exists(sha(shared)) and refcount(runtime, sha(shared)) == 1
    assert account.get(f"{base(pid)}/buckets/docs/files/{second['id']}/content").content == shared

    # the same content uploaded again after collection is stored afresh
    again = uploaded(account, pid, "docs", lonely)
    assert store.exists(sha(lonely)) and refcount(runtime, sha(lonely)) == 1
    assert account.get(f"{base(pid)}/buckets/docs/files/{again['id']}/content").content == lonely


def test_foreign_key_stops_collection_of_a_blob_still_in_use(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    """Defence in depth: even a wrong refcount cannot make the collector drop content
    that a file row still points at."""
    pid = project["id"]
    create_bucket(account, pid, "docs")
    created = uploaded(account, pid, "docs", b"precious")
    with runtime.db.transaction() as db:
        db.execute(update(Blob).values(refcount=0))
    age_row(runtime, sha(b"precious"))
    report = gc(runtime)
    assert report.unreferenced_deleted == 0 and report.errors == 1
    assert runtime.blobs.exists(sha(b"precious"))
    url = f"{base(pid)}/buckets/docs/files/{created['id']}/content"
    assert account.get(url).content == b"precious"


def test_upload_racing_gc_answers_storage_retry(
    account: Account, project: dict[str, Any], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector deletes the blob between `put_stream` and the row transaction."""
    pid = project["id"]
    create_bucket(account, pid, "docs")
    real_put = runtime.blobs.put_stream

    def put_then_collected(*args: Any, **kwargs: Any) -> BlobInfo:
        info = real_put(*args, **kwargs)
        runtime.blobs.delete(info.sha256)  # what a collector racing us would do
        return info

    monkeypatch.setattr(runtime.blobs, "put_stream", put_then_collected)
    before = counts(runtime)
    response = upload(account, pid, "docs", b"raced")
    body = assert_error(response, 503, "STORAGE_RETRY")
    assert body["error"]["details"]["retryable"] is True
    assert response.headers["retry-after"] == "1"
    assert counts(runtime) == before

    monkeypatch.setattr(runtime.blobs, "put_stream", real_put)
    retried = uploaded(account, pid, "docs", b"raced")
    assert refcount(runtime, sha(b"raced")) == 1
    url = f"{base(pid)}/buckets/docs/files/{retried['id']}/content"
    assert account.get(url).content == b"raced"


def _unreferenced_old_blob(runtime: Runtime, content: bytes) -> str:
    digest = put_orphan(runtime, content)
    with runtime.db.transaction() as db:
        blobrefs.acquire(db, runtime.blobs, digest, len(content))
    with runtime.db.transaction() as db:
        blobrefs.release(db, digest)
    age_row(runtime, digest)
    age_file(local(runtime), digest)
    return digest


def test_collector_waits_for_an_uncommitted_reference(runtime: Runtime) -> None:
    digest = _unreferenced_old_blob(runtime, b"about to be reused")
    reports: list[GcReport] = []
    with runtime.db.session(write=True) as upload_tx:
        blobrefs.acquire(upload_tx, runtime.blobs, digest, 18)  # not committed yet
        collector = threading.Thread(target=lambda: reports.append(gc(runtime)))
        collector.start()
        time.sleep(0.5)
        assert collector.is_alive(), "the collector must wait for the upload's row lock"
        upload_tx.commit()
    collector.join(30)
    assert reports and reports[0].unreferenced_deleted == 0 and reports[0].errors == 0
    assert runtime.blobs.exists(digest) and refcount(runtime, digest) == 1


class _PausingDelete:
    """A blob store whose `delete` pauses until the test lets it go on."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.deleting = threading.Event()
        self.proceed = threading.Event()

    def delete(self, sha256: str) -> None:
        self.inner.delete(sha256)
        self.deleting.set()
        assert self.proceed.wait(30)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_reference_taken_while_collector_deletes_must_retry(runtime: Runtime) -> None:
    digest = _unreferenced_old_blob(runtime, b"collected right now")
    store = _PausingDelete(runtime.blobs)
    reports: list[GcReport] = []
    collector = threading.Thread(
        target=lambda: reports.append(collect_garbage(runtime.db.transaction, store, GRACE))
    )
    collector.start()
    assert store.deleting.wait(30)  # row deleted and bytes gone, not committed yet
    outcome: list[BaseException | None] = []

    def take_reference() -> None:
        try:
            with runtime.db.transaction() as db:
                blobrefs.acquire(db, runtime.blobs, digest, 19)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome.append(exc)

    uploader = threading.Thread(target=take_reference)
    uploader.start()
    time.sleep(0.3)
    assert uploader.is_alive(), "acquire must wait for the collector's transaction"
    store.proceed.set()
    collector.join(30)
    uploader.join(30)
    assert reports[0].unreferenced_deleted == 1
    assert len(outcome) == 1 and isinstance(outcome[0], StorageRetry)
    assert refcount(runtime, digest) is None and not runtime.blobs.exists(digest)


def test_concurrent_deletes_release_a_reference_once(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    create_bucket(account, pid, "docs")
    first = uploaded(account, pid, "docs", b"twice")
    uploaded(account, pid, "docs", b"twice")
    outcome: list[BaseException | None] = []

    def second_delete() -> None:
        try:
            with runtime.db.transaction() as db:
                files_service.delete_file(db, pid, "docs", first["id"])
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome.append(exc)

    with runtime.db.session(write=True) as db:
        files_service.delete_file(db, pid, "docs", first["id"])  # not committed yet
        other = threading.Thread(target=second_delete)
        other.start()
        time.sleep(0.3)
        db.commit()
    other.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], FileNotFound)
    assert refcount(runtime, sha(b"twice")) == 1


def test_release_files_of_a_project(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    """What a project deletion or a restore calls before dropping a project's files."""
    pid = project["id"]
    create_bucket(account, pid, "docs")
    create_bucket(account, pid, "more")
    other = account.create_project("Other")
    create_bucket(account, other["id"], "docs")
    for bucket in ("docs", "docs", "more"):
        uploaded(account, pid, bucket, b"common")
    uploaded(account, pid, "more", b"mine")
    uploaded(account, other["id"], "docs", b"common")
    assert refcount(runtime, sha(b"common")) == 4
    with runtime.db.transaction() as db:
        bucket_id = db.scalar(select(File.bucket_id).where(File.sha256 == sha(b"mine")))
        assert bucket_id is not None
        blobrefs.release_files(db, pid, bucket_id)
        db.execute(delete(File).where(File.bucket_id == bucket_id))  # as its caller would
    assert refcount(runtime, sha(b"common")) == 3 and refcount(runtime, sha(b"mine")) == 0
    with runtime.db.transaction() as db:
        blobrefs.release_files(db, pid)
    assert refcount(runtime, sha(b"common")) == 1  # only the other project's file is left


def test_periodic_gc_in_the_app_lifespan(settings: Settings, runtime: Runtime) -> None:
    assert runtime.settings.gc_interval_seconds == 0  # the test settings never start it
    assert start_periodic_gc(runtime) is None
    rt = _runtime(settings, gc_interval_seconds=1, gc_grace_seconds=60)
    try:
        orphan = put_orphan(rt, b"left by a crash")
        age_file(local(rt), orphan)
        with TestClient(create_app(rt.settings, rt)):
            deadline = time.monotonic() + 20
            while rt.blobs.exists(orphan) and time.monotonic() < deadline:
                time.sleep(0.1)
        assert not rt.blobs.exists(orphan)
    finally:
        rt.close()


def _runtime(settings: Settings, **changes: Any) -> Runtime:
    return Runtime.build(settings.model_copy(update=changes))


def test_gc_command(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {**os.environ, "CLOUDBOX_DATA_DIR": str(data_dir), "MASTER_KEY": MASTER_KEY}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cloudbox.cli.main", "gc", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    data_dir.mkdir()
    upgrade_database(f"sqlite:///{data_dir / 'cloudbox.db'}")
    store = LocalBlobStore(data_dir / "blobs")
    old_orphan = store.put_stream([b"old orphan"]).sha256
    young_orphan = store.put_stream([b"young orphan"]).sha256
    unreferenced = store.put_stream([b"unreferenced"]).sha256
    referenced = store.put_stream([b"referenced"]).sha256
    for digest in (old_orphan, unreferenced, referenced):
        age_file(store, digest)
    db = Database(f"sqlite:///{data_dir / 'cloudbox.db'}")
    try:
        with db.transaction() as session:
            long_ago = utcnow() - timedelta(hours=2)
            for digest, count in ((unreferenced, 0), (referenced, 1)):
                session.add(
                    Blob(
                        sha256=digest,
                        size=12,
                        refcount=count,
                        created_at=long_ago,
                        last_seen_at=long_ago,
                    )
                )

        dry = run("--grace-seconds", "60", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "would delete 1 unreferenced blob(s) and 1 orphan blob(s), 22 bytes" in dry.stdout
        assert all(store.exists(d) for d in (old_orphan, young_orphan, unreferenced, referenced))

        real = run("--grace-seconds", "60")
        assert real.returncode == 0, real.stderr
        assert "deleted 1 unreferenced blob(s) and 1 orphan blob(s), 22 bytes" in real.stdout
        assert not store.exists(old_orphan) and not store.exists(unreferenced)
        assert store.exists(young_orphan) and store.exists(referenced)
        with db.session() as session:
            assert session.scalar(select(func.count()).select_from(Blob)) == 1
    finally:
        db.dispose()
