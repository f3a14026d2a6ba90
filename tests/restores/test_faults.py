"""Fault injection into restores (DESIGN §2.2): a failure anywhere before the commit leaves
the target exactly as it was; a failure after the commit leaves it exactly the backup.
Never a mix.

Two families:
- a failure forced at every phase boundary (monkeypatching the restorer's passes, which
  the job calls through the module, in the consumer thread);
- the N-th database statement / blob write / blob rename of one small restore failing,
  for every N.

"Exactly" is a canonical dump of every section's rows, a hash of every referenced blob,
the global blob reference counts, and the audit log (append-only: the restore may only
add its own entries).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from cloudbox.backups import service as backup_service
from cloudbox.backups.models import Backup
from cloudbox.files.gc import collect_garbage
from cloudbox.files.models import Blob
from cloudbox.restores import restorer
from cloudbox.restores import service as restore_service
from cloudbox.restores.models import Restore
from cloudbox.runtime import Runtime
from tests.plugins.api import Account, assert_error
from tests.plugins.jobs import completed_backup
from tests.plugins.populate import canonical_dump

# -- the project, its states, and how they are compared ----------------------------------


def tiny_project(account: Account, pid: int) -> None:
    """Every kind of row a restore touches, kept small so a restore takes a fraction of a
    second: collections and documents, a bucket and files (one shared blob), an app user,
    an API key, CORS, auth settings, project settings, a function with a domain."""
    base = f"/api/projects/{pid}"

    def ok(response: Any, status: int = 201) -> dict[str, Any]:
        assert response.status_code == status, response.text
        body: dict[str, Any] = response.json()
        return body

    ok(account.post(f"{base}/collections", json={"name": "posts"}))
    ok(account.post(f"{base}/collections", json={"name": "tags"}))
    for n in range(3):
        ok(
            account.post(
                f"{base}/collections/posts/documents",
                json={"id": f"doc-{n}", "data": {"n": n, "nested": {"x": [n, "é"]}}},
            )
        )
    ok(account.post(f"{base}/collections/tags/documents", json={"id": "t", "data": {"t": 1}}))
    ok(account.post(f"{base}/buckets", json={"name": "media"}))
    for name, content in (("a.bin", b"alpha" * 300), ("b.txt", b"bravo"), ("c.txt", b"bravo")):
        ok(account.post(f"{base}/buckets/media/files", files={"file": (name, content)}))
    function = ok(
        account.post(
            f"{base}/functions",
            json={
                "name": "hello",
                "runtime": "nodejs20",
                "entry_point": "index.handler",
                "code": "exports.handler = () => 1",
                "secrets": {"TOKEN": "s3cr3t"},
            },
        )
    )
    ok(
        account.post(
            f"{base}/function-domains",
            json={"domain": f"p{pid}-fault.example.com", "function_id": function["id"]},
        )
    )
    ok(
        account.post(
            f"{base}/users",
            json={"email": "end@example.com", "password": "end-user-password", "name": "End"},
        )
    )
    ok(account.post(f"{base}/api-keys", json={"name": "ci", "scopes": ["read"]}))
    ok(account.put(f"{base}/cors", json={"allowed_origins": ["https://a.example.com"]}), 200)
    ok(account.patch(base, json={"settings": {"theme": "dark"}}), 200)


def mutate(account: Account, pid: int, tag: str = "") -> None:
    """Change the project after its backup, in every section a restore replaces: the
    target's "before" state differs from the backup everywhere."""
    base = f"/api/projects/{pid}"
    doc_ids = {d["id"] for d in account.get(f"{base}/collections/posts/documents").json()}
    if "doc-0" in doc_ids:
        assert account.delete(f"{base}/collections/posts/documents/doc-0").status_code == 204
    assert (
        account.post(
            f"{base}/collections/posts/documents", json={"id": f"late{tag}", "data": {"late": 1}}
        ).status_code
        == 201
    )
    if "doc-1" in doc_ids:
        response = account.patch(
            f"{base}/collections/posts/documents/doc-1", json={"data": {"n": -1}}
        )
        assert response.status_code == 200, response.text
    assert account.post(f"{base}/collections", json={"name": f"extra{tag}"}).status_code == 201
    for row in account.get(f"{base}/buckets/media/files").json():
        if row["name"] == "a.bin":  # its blob becomes garbage: a restore must bring it back
            assert account.delete(f"{base}/buckets/media/files/{row['id']}").status_code == 204
    upload = account.post(
        f"{base}/buckets/media/files", files={"file": (f"new{tag}.bin", f"new{tag}".encode())}
    )
    assert upload.status_code == 201, upload.text
    assert account.patch(base, json={"settings": {"theme": f"light{tag}"}}).status_code == 200
    response = account.post(
        f"{base}/users",
        json={"email": f"second{tag}@example.com", "password": "second-password", "name": "S"},
    )
    assert response.status_code == 201, response.text


def collect(runtime: Runtime) -> None:
    """Garbage collection with no grace: what a failed restore staged and nothing
    references goes, what the target references stays (the dump hashes those bytes)."""
    collect_garbage(runtime.db.transaction, runtime.blobs, 0)


def blob_refs(runtime: Runtime) -> dict[str, tuple[int, int]]:
    """The global `blobs` table: sha256 -> (size, refcount)."""
    with runtime.db.session() as db:
        return {
            sha: (size, refcount)
            for sha, size, refcount in db.execute(select(Blob.sha256, Blob.size, Blob.refcount))
        }


@dataclass
class State:
    rows: dict[str, Any]
    audit: list[dict[str, Any]]
    refs: dict[str, tuple[int, int]] = field(default_factory=dict)


def state(runtime: Runtime, pid: int) -> State:
    dump = canonical_dump(runtime, pid, include_audit=True)
    audit = dump.pop("audit_logs")
    return State(rows=dump, audit=audit, refs=blob_refs(runtime))


#: audit entries a restore (or the request asking for it) may add to its target
RESTORE_OWN_ACTIONS = frozenset(
    {"restores.failed", "restores.completed", "backups.restore", "backups.completed"}
)


def assert_audit_appended_only(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
    """Every entry the target had is still there, unchanged; new entries are only the
    restore's own (its failure or completion, the request, its pre-restore snapshot)."""
    after_by_id = {row["id"]: row for row in after}
    for row in before:
        assert after_by_id.get(row["id"]) == row, f"audit entry changed or lost: {row}"
    old = {row["id"] for row in before}
    extra = [row for row in after if row["id"] not in old]
    strangers = [row for row in extra if row["action"] not in RESTORE_OWN_ACTIONS]
    assert not strangers, strangers


def assert_unchanged(runtime: Runtime, pid: int, before: State) -> State:
    after = state(runtime, pid)
    assert after.rows == before.rows, "the target changed although the restore failed"
    assert after.refs == before.refs, "blob reference counts changed"
    assert_audit_appended_only(before.audit, after.audit)
    return after


def assert_is_backup(runtime: Runtime, pid: int, backup: State, before: State) -> State:
    after = state(runtime, pid)
    assert after.rows == backup.rows, "the target is not exactly the backup"
    assert_audit_appended_only(before.audit, after.audit)
    return after


def outcome(runtime: Runtime, pid: int, before: State, backup: State) -> str:
    """'before' or 'backup' — anything else (a mix) fails the test."""
    after = state(runtime, pid)
    assert_audit_appended_only(before.audit, after.audit)
    if after.rows == before.rows:
        assert after.refs == before.refs, "rows unchanged but blob reference counts moved"
        return "before"
    if after.rows == backup.rows:
        return "backup"
    changed = sorted(k for k in after.rows if after.rows[k] != before.rows.get(k))
    unrestored = sorted(k for k in after.rows if after.rows[k] != backup.rows.get(k))
    raise AssertionError(
        f"the target is a mix: differs from before in {changed}, from the backup in {unrestored}"
    )


def restore_row(runtime: Runtime, restore_id: int) -> Restore:
    with runtime.db.session() as db:
        row = db.get(Restore, restore_id)
        assert row is not None
        db.expunge(row)
        return row


def latest_restore(runtime: Runtime, pid: int) -> Restore:
    with runtime.db.session() as db:
        row = db.scalars(
            select(Restore).where(Restore.target_project_id == pid).order_by(Restore.id.desc())
        ).first()
        assert row is not None
        db.expunge(row)
        return row


def lock_is_free(account: Account, pid: int) -> None:
    """The failed restore released the project: writes are accepted again."""
    response = account.post(f"/api/projects/{pid}/collections", json={"name": "probe"})
    assert response.status_code == 201, response.text
    assert account.delete(f"/api/projects/{pid}/collections/probe").status_code == 204


class Injected(RuntimeError):
    """The fault the tests inject; the server must treat it as any unexpected error."""


@dataclass
class Scenario:
    account: Account
    runtime: Runtime
    pid: int
    backup: dict[str, Any]
    at_backup: State
    before: State


def scenario(account: Account, runtime: Runtime, pid: int) -> Scenario:
    tiny_project(account, pid)
    backup = completed_backup(account, pid)
    at_backup = state(runtime, pid)
    mutate(account, pid)
    before = state(runtime, pid)
    assert before.rows != at_backup.rows
    return Scenario(account, runtime, pid, backup, at_backup, before)


@pytest.fixture
def tiny(account: Account, project: dict[str, Any], runtime: Runtime) -> Scenario:
    return scenario(account, runtime, project["id"])


def restore(s: Scenario, **options: Any) -> Any:
    return s.account.post(f"/api/backups/{s.backup['id']}/restore", json=options)


# -- a failure at every phase boundary ----------------------------------------------------


def _after(original: Callable[..., Any], when: Callable[..., bool] = lambda *a, **k: True):  # type: ignore[no-untyped-def]
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if when(*args, **kwargs):
            raise Injected("injected after the call")
        return result

    return wrapper


def _before(original: Callable[..., Any], when: Callable[..., bool]):  # type: ignore[no-untyped-def]
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if when(*args, **kwargs):
            raise Injected("injected before the call")
        return original(*args, **kwargs)

    return wrapper


def _first_insert_of(section: str) -> Callable[..., bool]:
    """True when `_transform` is first called for `section`: every section before it has
    already been inserted in the transaction."""
    seen: set[str] = set()

    def when(spec: Any, *_: Any, **__: Any) -> bool:
        if spec.name == section and section not in seen:
            seen.add(section)
            return True
        return False

    return when


BEFORE_COMMIT: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    # metadata.json is read and the master-key fingerprint matches; nothing else is proven
    "after_fingerprint": lambda mp: mp.setattr(
        restorer, "check_fingerprint", _after(restorer.check_fingerprint)
    ),
    # the first blob is staged (or found present); the checksum is not compared yet
    "after_first_blob_staged": lambda mp: mp.setattr(
        restorer, "_stage_blob", _after(restorer._stage_blob)
    ),
    # the archive's bytes are proven (checksum, digests) and every blob is staged
    "after_verify_and_stage": lambda mp: mp.setattr(
        restorer, "verify_and_stage", _after(restorer.verify_and_stage)
    ),
    "after_pre_restore_backup": lambda mp: mp.setattr(
        restore_service, "_pre_restore_backup", _after(restore_service._pre_restore_backup)
    ),
    "in_txn_after_clear_target": lambda mp: mp.setattr(
        restorer, "clear_target", _after(restorer.clear_target)
    ),
    "in_txn_after_first_section_insert": lambda mp: mp.setattr(
        restorer, "_transform", _before(restorer._transform, _first_insert_of("users"))
    ),
    "in_txn_after_documents_inserted": lambda mp: mp.setattr(
        restorer, "_transform", _before(restorer._transform, _first_insert_of("files"))
    ),
    "in_txn_after_blob_refs_taken": lambda mp: mp.setattr(
        restorer, "acquire", _after(restorer.acquire)
    ),
    "in_txn_after_all_inserts": lambda mp: mp.setattr(restorer, "apply", _after(restorer.apply)),
    "before_commit_in_check_counts": lambda mp: mp.setattr(
        restorer, "check_counts", _after(restorer.check_counts)
    ),
    "before_commit_after_finish": lambda mp: mp.setattr(
        restore_service, "_finish", _after(restore_service._finish)
    ),
}


#: the N-th-statement loop below fails every statement boundary on both databases; the
#: phase-boundary cases run on SQLite in the quick suite and on PostgreSQL in the slow one
SQLITE_QUICK = pytest.mark.parametrize(
    "database_url",
    [
        "sqlite",
        pytest.param("postgresql", marks=[pytest.mark.integration, pytest.mark.slow]),
    ],
    indirect=True,
)


@SQLITE_QUICK
@pytest.mark.parametrize("phase", list(BEFORE_COMMIT))
def test_failure_before_commit_leaves_target_exactly_as_before(
    phase: str, tiny: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = tiny
    with monkeypatch.context() as mp:
        BEFORE_COMMIT[phase](mp)
        response = restore(s)
    body = assert_error(response, 500, "RESTORE_FAILED")
    assert "Injected" not in response.text and "injected" not in response.text
    restore_id = body["error"]["details"]["restore_id"]

    after = assert_unchanged(s.runtime, s.pid, s.before)
    row = restore_row(s.runtime, restore_id)
    assert row.status == "failed" and row.error_code == "RESTORE_FAILED"
    failures = [
        a
        for a in after.audit
        if a["action"] == "restores.failed" and a["resource_id"] == str(restore_id)
    ]
    assert len(failures) == 1 and failures[0]["success"] is False
    assert not any(
        a["action"] == "restores.completed" and a["resource_id"] == str(restore_id)
        for a in after.audit
    )
    lock_is_free(s.account, s.pid)

    # nothing the failed attempt left behind (staged blobs, a pre-restore backup) stops
    # the next attempt from producing exactly the backup
    collect(s.runtime)
    probed = state(s.runtime, s.pid)
    retry = restore(s, pre_restore_backup=False)
    assert retry.status_code == 200, retry.text
    assert_is_backup(s.runtime, s.pid, s.at_backup, probed)


class _CommitFault:
    """Raises from the session's `after_commit` of the restore's apply transaction: the
    commit has happened, then something fails (the process is told something broke)."""

    def __init__(self) -> None:
        self.armed = threading.local()
        self.fired = 0

    def arm_after(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            self.armed.on = True
            return result

        return wrapper

    def __call__(self, session: Session) -> None:
        if getattr(self.armed, "on", False):
            self.armed.on = False
            self.fired += 1
            raise Injected("injected after commit")


def test_failure_just_after_commit_leaves_target_exactly_the_backup(
    tiny: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = tiny
    fault = _CommitFault()
    monkeypatch.setattr(restore_service, "_finish", fault.arm_after(restore_service._finish))
    event.listen(Session, "after_commit", fault)
    try:
        response = restore(s)
    finally:
        event.remove(Session, "after_commit", fault)
    assert fault.fired == 1
    # the commit is the single commit point: once it happened the restore is complete
    assert response.status_code == 200, response.text
    restore_id = response.json()["restore"]["id"]
    after = assert_is_backup(s.runtime, s.pid, s.at_backup, s.before)
    row = restore_row(s.runtime, restore_id)
    assert row.status == "completed" and row.error_code is None
    assert [
        a["action"]
        for a in after.audit
        if a["resource_id"] == str(restore_id) and a["action"].startswith("restores.")
    ] == ["restores.completed"]
    lock_is_free(s.account, s.pid)


# -- the N-th statement, blob write, blob rename ------------------------------------------


class JobProbe:
    """Runs restore jobs inline (the enqueue runs the job in the request's thread, so the
    answer comes when the job is done) and lets a test fail the N-th operation the job
    performs: a database statement on the engine, a blob write or a blob rename.

    Only operations on the job's own threads count (its thread, and the verification
    that runs beside the apply when no pre-restore backup is taken): the progress
    reporter's heartbeat thread is timing-dependent and left alone. Which operation is
    the N-th may then differ between runs; how many there are does not.
    """

    def __init__(self, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runtime = runtime
        self.local = threading.local()
        self.counting = threading.Lock()
        self.counts: dict[str, int] = {}
        self.fail: tuple[str, int] | None = None
        self.fired: str | None = None
        self.statements: list[str] = []
        self.escaped: Exception | None = None
        original_run = restore_service.run_restore

        def run(rt: Runtime, restore_id: int) -> None:
            self.local.active = True
            try:
                original_run(rt, restore_id)
            except Exception as exc:  # noqa: BLE001 - as the queue: log the task's error, go on
                self.escaped = exc
            finally:
                self.local.active = False

        monkeypatch.setattr(restore_service, "run_restore", run)
        monkeypatch.setitem(runtime.tasks, "run_restore", lambda rid: run(runtime, rid))

        event.listen(runtime.db.engine, "before_cursor_execute", self._on_statement)
        self._engine = runtime.db.engine

        blobs = runtime.blobs
        monkeypatch.setattr(blobs, "put_stream", self._wrap_put(blobs.put_stream))
        monkeypatch.setattr(
            blobs,
            "_publish",
            self._wrap_simple("blob_rename", blobs._publish),  # type: ignore[attr-defined]
        )

    # -- wrappers -----------------------------------------------------------------------

    def _active(self) -> bool:
        if threading.current_thread().name == "restore-verify":
            return True
        return bool(getattr(self.local, "active", False))

    def _tick(self, kind: str) -> bool:
        """Count one operation of `kind`; True when the test wants this one to fail."""
        if not self._active():
            return False
        with self.counting:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            if self.fail == (kind, self.counts[kind]) and self.fired is None:
                self.fired = f"{kind} #{self.counts[kind]}"
                return True
        return False

    def _on_statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self._active():
            self.statements.append(statement.split("\n", 1)[0][:80])
        if self._tick("statement"):
            raise Injected(f"statement failed: {statement[:60]}")

    def _wrap_simple(self, kind: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self._tick(kind):
                raise OSError(5, "injected I/O error")
            return original(*args, **kwargs)

        return wrapper

    def _wrap_put(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(chunks: Any, *args: Any, **kwargs: Any) -> Any:
            if self._tick("blob_write"):
                raise OSError(28, "injected: no space left on device")
            if self._tick("blob_write_midway"):
                chunks = _break_after_first(chunks)
            return original(chunks, *args, **kwargs)

        return wrapper

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._on_statement)

    # -- running ------------------------------------------------------------------------

    def run(self, s: Scenario, fail: tuple[str, int] | None, **options: Any) -> Any:
        self.counts, self.fail, self.fired, self.statements = {}, fail, None, []
        self.escaped = None
        response = restore(s, wait=False, pre_restore_backup=False, **options)
        assert response.status_code == 202, response.text
        return response.json()


def _break_after_first(chunks: Any) -> Iterator[bytes]:
    for n, chunk in enumerate(chunks):
        if n >= 1:
            raise OSError(5, "injected: the write failed midway")
        yield chunk
    raise OSError(5, "injected: the write failed midway")


@pytest.fixture
def probe(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[JobProbe]:
    p = JobProbe(runtime, monkeypatch)
    yield p
    p.close()


def _settle(s: Scenario, probe: JobProbe, restore_id: int) -> Restore:
    """The job has returned (it runs inline): its row says how it ended, whatever failed —
    never left `pending` or `running` for recovery while a synchronous caller waits."""
    row = restore_row(s.runtime, restore_id)
    assert row.status in ("completed", "failed"), (probe.fired, row.status, probe.escaped)
    return row


def _n_loop(s: Scenario, probe: JobProbe, kind: str) -> dict[str, int]:
    """Count the operations of `kind` a clean restore performs, then fail each in turn.

    Before every attempt the blobs nothing references are collected, so the restore has
    to write (and rename into place) the blobs the target lost since the backup."""
    collect(s.runtime)
    clean = probe.run(s, None)
    assert _settle(s, probe, clean["id"]).status == "completed"
    total = probe.counts.get(kind, 0)
    assert total > 0, f"a restore performs no {kind}"
    outcomes = {"before": 0, "backup": 0}
    outcomes_last = "backup"  # the clean run restored the backup
    for n in range(1, total + 1):
        if outcomes_last == "backup":
            mutate(s.account, s.pid, f"-{kind}-{n}")
        collect(s.runtime)
        before = state(s.runtime, s.pid)
        answer = probe.run(s, (kind, n))
        assert probe.fired is not None, f"{kind} #{n} was never reached (of {total})"
        row = _settle(s, probe, answer["id"])
        outcomes_last = outcome(s.runtime, s.pid, before, s.at_backup)
        outcomes[outcomes_last] += 1
        if row.status == "failed":
            assert outcomes_last == "before", f"{probe.fired}: a failed restore changed the target"
            assert row.error_code in ("RESTORE_FAILED", "RESTORE_INTERRUPTED", "STORAGE_FULL"), (
                probe.fired,
                row.error_code,
            )
        else:  # the fault hit something after the commit: exactly the backup
            assert outcomes_last == "backup", probe.fired
        lock_is_free(s.account, s.pid)
    return outcomes


def test_nth_statement_fails(tiny: Scenario, probe: JobProbe) -> None:
    outcomes = _n_loop(tiny, probe, "statement")
    assert outcomes["before"] >= 1


def test_nth_blob_write_fails(tiny: Scenario, probe: JobProbe) -> None:
    for kind in ("blob_write", "blob_write_midway", "blob_rename"):
        outcomes = _n_loop(tiny, probe, kind)
        assert outcomes["before"] >= 1, kind
    tmp = tiny.runtime.settings.blob_dir / ".tmp"
    assert not [p.name for p in tmp.iterdir() if not p.name.startswith("probe")], "partial blob"


# -- a failure after the upload of an imported archive -------------------------------------


def _fail_import_audit(original: Callable[..., Any]) -> Callable[..., Any]:
    def record(db: Any, project_id: int, **kwargs: Any) -> Any:
        if kwargs.get("action") == "backups.import" and kwargs.get("resource_id"):
            raise Injected("the completing transaction fails")
        return original(db, project_id, **kwargs)

    return record


AFTER_UPLOAD: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "reading_the_stored_upload": lambda mp: mp.setattr(
        backup_service,
        "verify_archive",
        _before(backup_service.verify_archive, lambda *a, **k: True),
    ),
    "after_verify": lambda mp: mp.setattr(
        backup_service, "verify_archive", _after(backup_service.verify_archive)
    ),
    "completing_the_backup_row": lambda mp: mp.setattr(
        backup_service.audit, "record", _fail_import_audit(backup_service.audit.record)
    ),
}


@SQLITE_QUICK
@pytest.mark.parametrize("point", list(AFTER_UPLOAD))
def test_failure_after_upload_leaves_nothing(
    point: str,
    account: Account,
    project: dict[str, Any],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An import that fails after its bytes are stored, for a reason not the archive's,
    answers 500 and leaves no backup row and no archive behind."""
    pid = project["id"]
    tiny_project(account, pid)
    backup = completed_backup(account, pid)
    data = account.get(f"/api/backups/{backup['id']}/download").content
    archives = runtime.settings.data_dir / "backups"
    files_before = sorted(p.name for p in archives.rglob("*") if p.is_file())
    with runtime.db.session() as db:
        rows_before = db.scalars(select(Backup.id)).all()
    with monkeypatch.context() as mp:
        AFTER_UPLOAD[point](mp)
        response = account.post(
            f"/api/projects/{pid}/backups/import",
            files={"file": ("backup.tar.gz", data, "application/gzip")},
        )
    assert_error(response, 500, "INTERNAL_ERROR")
    assert "njected" not in response.text
    with runtime.db.session() as db:
        assert db.scalars(select(Backup.id)).all() == rows_before, "a backup row was left"
    assert sorted(p.name for p in archives.rglob("*") if p.is_file()) == files_before
    # and the same upload, undisturbed, imports
    again = account.post(
        f"/api/projects/{pid}/backups/import",
        files={"file": ("backup.tar.gz", data, "application/gzip")},
    )
    assert again.status_code == 201, again.text
