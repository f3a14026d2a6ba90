"""Writes and reads while a restore runs (issue: restore, "Concurrency" and "Writes during a
restore").

A writer thread creates documents in the target without pause, a reader thread reads it,
while a restore of a large-ish backup replaces it. Every write answered 2xx is in the
project afterwards, or was sent before the restore took the project (its request began
before the restore request was answered) and was then replaced by it; every other write
got 409 RESTORE_IN_PROGRESS and left nothing; reads never fail.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from cloudbox.collections.models import Document
from cloudbox.runtime import Runtime
from tests.plugins.api import Account
from tests.plugins.jobs import completed_backup

BULK = 10_000


@dataclass
class Write:
    doc_id: str
    sent: float
    answered: float
    status: int
    code: str | None


def bulk_documents(runtime: Runtime, pid: int, collection_id: str, count: int) -> None:
    now = datetime.now(UTC)
    with runtime.db.transaction() as db:
        for start in range(0, count, 5000):
            db.execute(
                insert(Document),
                [
                    {
                        "project_id": pid,
                        "collection_id": collection_id,
                        "id": f"bulk-{n:06d}",
                        "data": {"n": n, "text": "restore me " * 4},
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(start, min(start + 5000, count))
                ],
            )


class Traffic:
    """A writer and a reader thread against one project."""

    def __init__(self, account: Account, pid: int) -> None:
        self.account = account
        self.base = f"/api/projects/{pid}/collections/posts/documents"
        self.stop = threading.Event()
        self.writes: list[Write] = []
        self.reads: list[tuple[float, int, str]] = []
        self.errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._guard(self._write), daemon=True),
            threading.Thread(target=self._guard(self._read), daemon=True),
        ]

    def _guard(self, fn: Any) -> Any:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - surfaced by the test, not lost
                self.errors.append(exc)

        return run

    def _write(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            doc_id = f"w-{n:05d}"
            sent = time.monotonic()
            response = self.account.post(self.base, json={"id": doc_id, "data": {"n": n}})
            answered = time.monotonic()
            code = None
            if response.status_code >= 300:
                code = response.json().get("error", {}).get("code")
            self.writes.append(Write(doc_id, sent, answered, response.status_code, code))
            time.sleep(0.005)

    def _read(self) -> None:
        while not self.stop.is_set():
            for url in (f"{self.base}?limit=5", f"{self.base}/bulk-000001"):
                started = time.monotonic()
                response = self.account.get(url)
                self.reads.append((started, response.status_code, url))
            time.sleep(0.005)

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(60)
        assert not self.errors, self.errors


def test_writes_during_a_restore_are_refused_or_kept_never_lost(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    collection = account.post(f"/api/projects/{pid}/collections", json={"name": "posts"})
    assert collection.status_code == 201
    bulk_documents(runtime, pid, collection.json()["id"], BULK)
    backup = completed_backup(account, pid)

    with Traffic(account, pid) as traffic:
        time.sleep(0.5)  # writes before the restore
        post_sent = time.monotonic()
        answer = account.post(f"/api/backups/{backup['id']}/restore", json={"wait": False})
        post_answered = time.monotonic()
        assert answer.status_code == 202, answer.text
        restore_id = answer.json()["id"]
        while True:
            body = account.get(f"/api/restores/{restore_id}").json()
            if body["status"] in ("completed", "failed"):
                break
            time.sleep(0.05)
        done_seen = time.monotonic()
        time.sleep(0.5)  # writes after the restore
    assert body["status"] == "completed", body
    assert body["started_at"] and body["completed_at"]

    with runtime.db.session() as db:
        present = set(
            db.scalars(
                select(Document.id).where(Document.project_id == pid, Document.id.like("w-%"))
            )
        )
        bulk = db.scalar(
            select(Document.id).where(
                Document.project_id == pid, Document.id == f"bulk-{BULK - 1:06d}"
            )
        )
    assert bulk is not None, "the restore did not bring the backup's documents back"

    kept = replaced = refused = 0
    for w in traffic.writes:
        if 200 <= w.status < 300:
            if w.doc_id in present:
                kept += 1
                continue
            # acknowledged and gone: only a write that began before the restore held the
            # project, which the restore then replaced as documented
            assert w.sent < post_answered, f"acknowledged write lost: {w}"
            replaced += 1
        else:
            assert (w.status, w.code) == (409, "RESTORE_IN_PROGRESS"), w
            assert w.doc_id not in present, f"a refused write landed: {w}"
            assert w.answered > post_sent and w.sent < done_seen, w
            refused += 1
    # every write acknowledged before the restore was asked for predates nothing it
    # restores: the backup does not hold it, so the restore removed it
    early = [w for w in traffic.writes if w.answered < post_sent and w.status == 201]
    assert early and all(w.doc_id not in present for w in early), "the restore kept a write"
    late = [w for w in traffic.writes if w.sent > done_seen]
    assert late and all(w.status == 201 and w.doc_id in present for w in late), late[:3]
    assert refused > 0, "no write hit the restore: the test proves nothing"
    assert kept + replaced + refused == len(traffic.writes)

    failed_reads = [r for r in traffic.reads if r[1] != 200]
    assert not failed_reads, failed_reads[:5]
    during = [r for r in traffic.reads if post_answered < r[0] < done_seen]
    assert during, "no read happened while the restore ran"
