"""A real `cloudbox serve` process killed with SIGKILL in the middle of a restore (and of a
backup): after a restart on the same data directory the job is `failed` (interrupted) or
`completed` — never left `running` or `pending` — and the target is exactly as it was or
exactly the backup, never a mix (DESIGN §2.2, §2.8).

The project holds a few tens of MiB of random file content and tens of thousands of
documents, loaded straight into the server's database and blob store while it is stopped,
so every phase of a restore (verify, stage, pre-restore backup, apply) lasts long enough
to be seen through `GET /api/restores/{id}` and killed in.

Also here, marked slow: restoring 200,000 documents and 1 GiB of files keeps the server's
peak RSS under 250 MB.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

import tests.restores.test_faults as faults
from cloudbox.backups.models import Backup
from cloudbox.blobstore.local import LocalBlobStore
from cloudbox.db.base import Base
from cloudbox.db.engine import Database
from cloudbox.files.models import Blob
from cloudbox.restores.models import Restore
from tests.plugins.populate import canonical_dump
from tests.plugins.rss import PeakRss
from tests.plugins.server import ServerProcess, start_server

pytestmark = pytest.mark.e2e

ENV = {
    "CLOUDBOX_JOB_HEARTBEAT_TIMEOUT_SECONDS": "2",
    "CLOUDBOX_RECOVERY_INTERVAL_SECONDS": "1",
    "CLOUDBOX_JOB_PROGRESS_INTERVAL_SECONDS": "0.1",
    "CLOUDBOX_GC_INTERVAL_SECONDS": "0",
    # paced, so every phase of a job on the project below lasts long enough to be killed
    # in whatever the machine's speed (a restore reads ~2 x 32 MiB, a backup writes ~40 MiB)
    "CLOUDBOX_JOB_MAX_BYTES_PER_SECOND": str(24 * 2**20),
}
#: audit entries a killed restore (and its recovery) may add to its target
KILL_OWN_ACTIONS = faults.RESTORE_OWN_ACTIONS | {"backups.failed"}


# -- a server, a user, a big project -----------------------------------------------------


@dataclass
class Box:
    """One data directory, the server currently running on it, and a signed-in owner."""

    data_dir: Path
    server: ServerProcess | None = None
    token: str = ""
    pid: int = 0
    collection_id: str = ""
    bucket_id: str = ""
    logs: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=lambda: dict(ENV))

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.base_url

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )

    def start(self) -> None:
        self.server = start_server(self.data_dir, self.env, timeout=60)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.logs.append(self.server.log())
            self.server = None

    def kill(self) -> None:
        assert self.server is not None
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait(timeout=30)
        self.logs.append(self.server.log())
        self.server = None

    def reader(self) -> Any:
        """The server's database and blob store, read from this process (SQLite WAL lets
        us read while the server writes)."""
        return SimpleNamespace(
            db=Database(f"sqlite:///{self.data_dir / 'cloudbox.db'}"),
            blobs=LocalBlobStore(self.data_dir / "blobs"),
        )


def ok(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def make_box(data_dir: Path, *, documents: int, file_sizes: list[int], paced: bool = True) -> Box:
    box = Box(data_dir)
    if not paced:
        box.env["CLOUDBOX_JOB_MAX_BYTES_PER_SECOND"] = "0"
    box.start()
    with httpx.Client(base_url=box.url, timeout=30) as anon:
        body = ok(
            anon.post(
                "/api/auth/register",
                json={"email": "kill@example.com", "password": "kill-password-1", "name": "K"},
            )
        )
    box.token = body["token"]
    with box.http() as api:
        box.pid = ok(api.post("/api/projects", json={"name": "Big"}))["id"]
        base = f"/api/projects/{box.pid}"
        box.collection_id = ok(api.post(f"{base}/collections", json={"name": "posts"}))["id"]
        box.bucket_id = ok(api.post(f"{base}/buckets", json={"name": "media"}))["id"]
        ok(api.post(f"{base}/users", json={"email": "u@example.com", "password": "pw-123456789"}))
    load(box, documents=documents, file_sizes=file_sizes)
    return box


def load(box: Box, *, documents: int, file_sizes: list[int], seed: int = 1) -> None:
    """Rows straight into the server's database (SQLite in WAL mode takes a second
    writer), bytes into its blob store, with their reference counts: what thousands of API
    calls would leave, in seconds."""
    db = Database(f"sqlite:///{box.data_dir / 'cloudbox.db'}")
    blobs = LocalBlobStore(box.data_dir / "blobs")
    tables = Base.metadata.tables
    now = datetime.now(UTC)
    rng = random.Random(seed)
    try:
        with db.transaction() as session:
            batch = []
            for n in range(documents):
                batch.append(
                    {
                        "project_id": box.pid,
                        "collection_id": box.collection_id,
                        "id": f"bulk-{n:07d}",
                        "data": {"n": n, "title": f"document {n}", "tags": ["a", "b", n % 7]},
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                if len(batch) == 5000:
                    session.execute(insert(tables["documents"]), batch)
                    batch = []
            if batch:
                session.execute(insert(tables["documents"]), batch)
            for n, size in enumerate(file_sizes):
                chunks = (rng.randbytes(min(2**20, size - off)) for off in range(0, size, 2**20))
                info = blobs.put_stream(chunks)
                session.execute(
                    insert(Blob),
                    [
                        {
                            "sha256": info.sha256,
                            "size": size,
                            "refcount": 1,
                            "created_at": now,
                            "last_seen_at": now,
                        }
                    ],
                )
                session.execute(
                    insert(tables["files"]),
                    [
                        {
                            "project_id": box.pid,
                            "id": f"bulkfile{n:04d}",
                            "bucket_id": box.bucket_id,
                            "name": f"big-{n}.bin",
                            "folder_path": "",
                            "mime_type": "application/octet-stream",
                            "size": size,
                            "sha256": info.sha256,
                            "created_at": now,
                            "updated_at": now,
                        }
                    ],
                )
    finally:
        db.dispose()


def settled(box: Box) -> faults.State:
    """A dump once the audit entries of the requests just answered are written (the
    server writes them right after each response)."""
    from cloudbox.audit.models import AuditLog

    rt = box.reader()
    try:
        last = -1
        while True:
            with rt.db.session() as s:
                count = len(
                    s.scalars(select(AuditLog.id).where(AuditLog.project_id == box.pid)).all()
                )
            if count == last:
                break
            last = count
            time.sleep(0.15)
    finally:
        rt.db.dispose()
    return dump(box)


def dump(box: Box) -> faults.State:
    rt = box.reader()
    try:
        full = canonical_dump(rt, box.pid, include_audit=True)
        with rt.db.session() as s:
            refs = {
                sha: (size, rc)
                for sha, size, rc in s.execute(select(Blob.sha256, Blob.size, Blob.refcount))
            }
    finally:
        rt.db.dispose()
    audit = full.pop("audit_logs")
    return faults.State(rows=full, audit=audit, refs=refs)


def mutate(api: httpx.Client, box: Box, tag: str) -> None:
    tag = "".join(c if c.isalnum() else "-" for c in tag)
    base = f"/api/projects/{box.pid}"
    response = api.delete(f"{base}/collections/posts/documents/bulk-{abs(hash(tag)) % 1000:07d}")
    assert response.status_code in (204, 404), response.text
    ok(
        api.post(
            f"{base}/collections/posts/documents", json={"id": f"late-{tag}", "data": {"t": tag}}
        )
    )
    ok(api.patch(f"/api/projects/{box.pid}", json={"settings": {"tag": tag}}), 200)
    ok(api.post(f"{base}/buckets/media/files", files={"file": (f"{tag}.txt", tag.encode())}))


def wait_for(check: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def terminal_restore(api: httpx.Client, restore_id: int, timeout: float = 60) -> dict[str, Any]:
    last: dict[str, Any] = {}

    def done() -> dict[str, Any] | None:
        body = ok(api.get(f"/api/restores/{restore_id}"), 200)
        last.update(body)
        return body if body["status"] in ("completed", "failed") else None

    try:
        result: dict[str, Any] = wait_for(done, timeout, f"restore {restore_id} to end")
    except AssertionError as exc:  # say where it stood: a slow job or a stuck one
        raise AssertionError(f"{exc}; last seen {last}") from None
    return result


def assert_before_or_backup(
    box: Box, before: faults.State, backup: faults.State, restore: dict[str, Any], case: str
) -> str:
    after = dump(box)
    if restore["status"] == "failed":
        assert restore["error"]["code"] == "RESTORE_INTERRUPTED", (case, restore)
        assert after.rows == before.rows, f"{case}: the interrupted restore changed the target"
        ended = "before"
    else:
        assert restore["status"] == "completed", (case, restore)
        assert after.rows == backup.rows, f"{case}: the completed restore is not the backup"
        ended = "backup"
    # append-only audit: everything that was there is still there
    after_ids = {row["id"]: row for row in after.audit}
    for row in before.audit:
        assert after_ids.get(row["id"]) == row, f"{case}: audit entry lost: {row}"
    old = {row["id"] for row in before.audit}
    strangers = [
        r["action"]
        for r in after.audit
        if r["id"] not in old and r["action"] not in KILL_OWN_ACTIONS
    ]
    assert not strangers, (case, strangers)
    return ended


def assert_unlocked(api: httpx.Client, box: Box) -> None:
    """Recovery released the project: it takes writes and jobs again."""
    base = f"/api/projects/{box.pid}"
    ok(api.post(f"{base}/collections", json={"name": "probe"}))
    assert api.delete(f"{base}/collections/probe").status_code == 204


def _unfinished_jobs(box: Box) -> tuple[list[Any], list[Any]]:
    rt = box.reader()
    try:
        with rt.db.session() as s:
            restores = s.execute(
                select(Restore.id, Restore.status).where(Restore.status.in_(("pending", "running")))
            ).all()
            backups = s.execute(
                select(Backup.id, Backup.status).where(Backup.status == "creating")
            ).all()
    finally:
        rt.db.dispose()
    return list(restores), list(backups)


def no_stuck_jobs(box: Box, timeout: float = 15) -> None:
    """Every job the kill interrupted is finished by recovery: not necessarily in the pass
    that failed the restore (a pre-restore backup heartbeats on its own, so its heartbeat
    can go stale a pass later), but within a few passes."""
    deadline = time.monotonic() + timeout
    while (left := _unfinished_jobs(box)) != ([], []) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == ([], []), left


def partial_archives(box: Box) -> list[str]:
    tmp = box.data_dir / "backups" / ".tmp"
    return [p.name for p in tmp.iterdir() if not p.name.startswith("probe")] if tmp.exists() else []


# -- killing ---------------------------------------------------------------------------------


@dataclass
class KillResult:
    case: str
    seen_phases: list[str]
    killed_in: str
    ended: str
    status: str


def kill_restore(
    box: Box,
    backup_id: int,
    backup_state: faults.State,
    case: str,
    *,
    phase: str | None = None,
    after: float | None = None,
) -> KillResult:
    """Start a restore, kill the server when it reaches `phase` (or `after` seconds), restart,
    let recovery run, and check the target."""
    with box.http() as api:
        mutate(api, box, case)
    before = settled(box)
    assert before.rows != backup_state.rows
    seen: list[str] = []
    with box.http() as api:
        started = time.monotonic()
        restore = ok(api.post(f"/api/backups/{backup_id}/restore", json={"wait": False}), 202)
        killed_in = "?"
        while True:
            body = ok(api.get(f"/api/restores/{restore['id']}"), 200)
            current = body["progress"]["phase"]
            if not seen or seen[-1] != current:
                seen.append(current)
            if body["status"] in ("completed", "failed"):
                killed_in = f"after the end ({body['status']})"
                break
            if (phase is not None and current == phase) or (
                after is not None and time.monotonic() - started >= after
            ):
                killed_in = current
                break
            time.sleep(0.01)
    box.kill()
    box.start()
    with box.http() as api:
        final = terminal_restore(api, restore["id"])
        assert final["status"] in ("completed", "failed")
        ended = assert_before_or_backup(box, before, backup_state, final, case)
        no_stuck_jobs(box)
        assert_unlocked(api, box)
    # a pre-restore backup killed half-written leaves no partial archive behind
    wait_for(lambda: not partial_archives(box), 10, "partial archives to be removed")
    return KillResult(case, seen, killed_in, ended, final["status"])


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Box, int, faults.State]]:
    box = make_box(
        tmp_path_factory.mktemp("kill") / "data",
        documents=20_000,
        file_sizes=[6 * 2**20] * 5 + [2**20, 1024],
    )
    try:
        with box.http() as api:
            backup = ok(api.post(f"/api/projects/{box.pid}/backups", json={"name": "base"}))
            wait_for(
                lambda: ok(api.get(f"/api/backups/{backup['id']}"), 200)["status"] != "creating",
                120,
                "the backup",
            )
            assert ok(api.get(f"/api/backups/{backup['id']}"), 200)["status"] == "completed"
        yield box, backup["id"], dump(box)
    finally:
        box.stop()


RESTORE_PHASES = ("verify", "stage", "pre-restore backup", "apply")


@pytest.mark.parametrize("phase", RESTORE_PHASES)
def test_kill_at_each_restore_phase(phase: str, big: tuple[Box, int, faults.State]) -> None:
    box, backup_id, backup_state = big
    result = kill_restore(box, backup_id, backup_state, f"phase-{phase}", phase=phase)
    assert result.killed_in == phase, f"never saw phase {phase!r}: {result}"
    # killed before the commit: the restore cannot have completed
    assert result.status == "failed" and result.ended == "before", result


def _random_moments(big: tuple[Box, int, faults.State], count: int, seed: int) -> list[KillResult]:
    box, backup_id, backup_state = big
    # how long an undisturbed restore takes here, to spread the kills over it
    with box.http() as api:
        mutate(api, box, f"calibrate-{seed}")
        started = time.monotonic()
        ok(api.post(f"/api/backups/{backup_id}/restore", json={}), 200)
        duration = time.monotonic() - started
    assert dump(box).rows == backup_state.rows
    rng = random.Random(seed)
    results = []
    for n in range(count):
        moment = rng.uniform(0, duration * 1.1)
        results.append(
            kill_restore(box, backup_id, backup_state, f"random-{seed}-{n}", after=moment)
        )
    return results


def test_kill_at_random_moments(big: tuple[Box, int, faults.State]) -> None:
    results = _random_moments(big, 5, seed=11)
    assert {r.ended for r in results} <= {"before", "backup"}


@pytest.mark.slow
def test_kill_at_20_random_moments(big: tuple[Box, int, faults.State]) -> None:
    results = _random_moments(big, 20, seed=12)
    assert {r.ended for r in results} <= {"before", "backup"}


def test_kill_during_backup_leaves_no_partial_archive(big: tuple[Box, int, faults.State]) -> None:
    box, _, _ = big
    backup_dir = box.data_dir / "backups"
    archives_before = {p.name for p in backup_dir.rglob("*") if p.is_file()}
    with box.http() as api:
        backup = ok(api.post(f"/api/projects/{box.pid}/backups", json={"name": "doomed"}))

        def writing() -> bool:
            body = ok(api.get(f"/api/backups/{backup['id']}"), 200)
            assert body["status"] == "creating", body
            return body["progress"]["bytes_done"] > 0

        wait_for(writing, 60, "the backup to write", interval=0.01)
        assert partial_archives(box), "the running backup writes no partial file to kill"
    box.kill()
    box.start()
    with box.http() as api:
        final = wait_for(
            lambda: (
                (b := ok(api.get(f"/api/backups/{backup['id']}"), 200))["status"] != "creating"
                and b
            ),
            30,
            "recovery of the backup",
        )
        assert final["status"] == "failed" and final["error"]["code"] == "BACKUP_INTERRUPTED", final
        assert_unlocked(api, box)

    wait_for(lambda: not partial_archives(box), 10, "the partial archive to be removed")
    archives_after = {p.name for p in backup_dir.rglob("*") if p.is_file()}
    assert archives_after == archives_before, archives_after - archives_before
    assert not (backup_dir / final["file_path"]).exists()
    no_stuck_jobs(box)


# -- memory ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_restoring_200k_documents_and_1_gib_keeps_rss_under_250_mb(tmp_path: Path) -> None:
    box = make_box(tmp_path / "data", documents=200_000, file_sizes=[64 * 2**20] * 16, paced=False)
    try:
        assert box.server is not None
        with box.http() as api, PeakRss(box.server.process.pid, largest=True) as sampler:
            backup = ok(api.post(f"/api/projects/{box.pid}/backups", json={"name": "big"}))
            wait_for(
                lambda: ok(api.get(f"/api/backups/{backup['id']}"), 200)["status"] != "creating",
                600,
                "the backup",
                interval=0.5,
            )
            assert ok(api.get(f"/api/backups/{backup['id']}"), 200)["status"] == "completed"
            backup_peak = sampler.peak
            target = ok(api.post("/api/projects", json={"name": "Copy"}))["id"]
            api.timeout = httpx.Timeout(900)
            restored = api.post(
                f"/api/backups/{backup['id']}/restore", json={"target_project_id": target}
            )
            assert restored.status_code == 200, restored.text
            docs = api.get(f"/api/projects/{target}/collections/posts/documents?limit=1")
            assert docs.status_code == 200 and docs.headers["x-total-count"] == "200000"
            files = api.get(f"/api/projects/{target}/buckets/media/files")
            assert sum(f["size"] for f in files.json()) == 2**30
        print(f"peak RSS {sampler.peak / 1e6:.0f} MB, backup phase {backup_peak / 1e6:.0f} MB")
        assert sampler.samples > 100 and sampler.peak > 0
        assert sampler.peak < 250 * 10**6, (
            f"peak RSS {sampler.peak / 1e6:.0f} MB (backup phase {backup_peak / 1e6:.0f} MB)"
        )
    finally:
        box.stop()
