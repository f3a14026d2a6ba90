"""Restore options and lifecycle over the HTTP API (issue 5): dry run plans that match
what the real restore applies, undo through the pre-restore backup, selective sections
with their dependencies, status endpoints and every refusal before anything is written."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloudbox.backups.sections import SPECS_BY_NAME
from cloudbox.jobs import locks
from cloudbox.runtime import Runtime
from cloudbox.security.encryption import SecretBox
from tests.plugins.api import Account, add_member, assert_error
from tests.plugins.jobs import completed_backup, create_backup, paused_blob_reads, wait_backup
from tests.plugins.populate import canonical_dump, populate
from tests.restores.test_roundtrip import (
    assert_blob_refcounts,
    audit_entries,
    listed,
    mutate,
    ok,
    populate_small,
    restore,
    restored,
)

DRY_RUN = "Dry run completed; nothing was changed"
ROW_SECTIONS = [name for name in SPECS_BY_NAME if name not in ("project", "audit_logs")]


def _keys(section: str, rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    spec = SPECS_BY_NAME[section]
    names = [c.name for c in spec.table.primary_key.columns if c.name != spec.project_column]
    return {tuple(row[name] for name in names) for row in rows}


def expected_plan(backup: dict[str, Any], target: dict[str, Any], section: str) -> dict[str, int]:
    """What replacing `target` by `backup` does to one section, from the two dumps."""
    incoming, present = _keys(section, backup[section]), _keys(section, target[section])
    return {
        "create": len(incoming - present),
        "replace": len(incoming & present),
        "remove": len(present - incoming),
        "skip": 0,
    }


def backup_count(account: Account, project_id: int) -> int:
    response = account.get(f"/api/projects/{project_id}/backups")
    assert response.status_code == 200, response.text
    return int(response.headers["X-Total-Count"])


def restore_count(account: Account, project_id: int) -> int:
    response = account.get(f"/api/projects/{project_id}/restores")
    assert response.status_code == 200, response.text
    return int(response.headers["X-Total-Count"])


def lock_holder(runtime: Runtime, project_id: int) -> Any:
    with runtime.db.session() as db:
        return locks.holder(db, project_id)


def test_dry_run_writes_nothing_and_plans_exactly_what_the_restore_applies(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    populated = populate_small(account, pid)
    backup = completed_backup(account, pid)
    in_backup = canonical_dump(runtime, pid)
    mutate(account, populated)
    current = canonical_dump(runtime, pid)
    backups_before = backup_count(account, pid)

    response = restore(account, backup["id"], dry_run=True)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["message"] == DRY_RUN and answer["target_project_id"] == pid
    dry = answer["restore"]
    assert dry["dry_run"] is True and dry["status"] == "completed"
    assert dry["pre_restore_backup_id"] is None

    # nothing written: rows, blobs, backups, lock
    assert canonical_dump(runtime, pid) == current
    assert backup_count(account, pid) == backups_before
    assert lock_holder(runtime, pid) is None

    # the plan, section by section, is what the two dumps say
    plan = dry["plan"]
    assert set(plan["sections"]) == set(SPECS_BY_NAME)
    for section in ROW_SECTIONS:
        assert plan["sections"][section] == expected_plan(in_backup, current, section), section
    # the sections this test changed really show every kind of change
    assert plan["sections"]["documents"]["create"] == 1  # doc-2 deleted after the backup
    assert plan["sections"]["documents"]["remove"] == 1  # added-later
    assert plan["sections"]["documents"]["replace"] == 9
    assert plan["sections"]["ssh_keys"] == {"create": 1, "replace": 0, "remove": 0, "skip": 0}
    assert plan["sections"]["users"]["create"] == 1
    assert plan["sections"]["collections"]["remove"] == 1
    assert plan["sections"]["project"] == {"create": 0, "replace": 1, "remove": 0, "skip": 0}
    audit_plan = plan["sections"]["audit_logs"]
    assert audit_plan["create"] == audit_plan["replace"] == audit_plan["remove"] == 0
    distinct = {row["sha256"]: row["size"] for row in in_backup["files"]}
    assert plan["blobs"]["count"] == len(distinct)
    assert plan["blobs"]["bytes"] == sum(distinct.values())

    # the real restore applies exactly that plan
    real = restored(account, backup["id"])
    assert canonical_dump(runtime, pid) == in_backup
    for section in SPECS_BY_NAME:
        if section == "audit_logs":
            # audit rows are never touched; only the count kept grew (the dry run is audited)
            real_audit = real["plan"]["sections"][section]
            assert real_audit["keep"] > audit_plan["keep"]
            assert {**real_audit, "keep": 0} == {**audit_plan, "keep": 0}
            continue
        assert real["plan"]["sections"][section] == plan["sections"][section], section
    assert real["plan"]["blobs"] == plan["blobs"]
    # and the rows it wrote are the planned creates and replaces, section by section
    (entry,) = [e for e in audit_entries(account, pid) if e["action"] == "restores.completed"]
    inserted = entry["details"]["inserted"]
    for section, counts in plan["sections"].items():
        written = counts["create"] + (counts["replace"] if section != "audit_logs" else 0)
        assert inserted.get(section, 0) == written, section


def test_undo_brings_back_the_pre_restore_state(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    populated = populate_small(account, pid)
    backup = completed_backup(account, pid)
    in_backup = canonical_dump(runtime, pid)
    mutate(account, populated)
    before_restore = canonical_dump(runtime, pid)

    done = restored(account, backup["id"])
    assert canonical_dump(runtime, pid) == in_backup
    pre = ok(account.get(f"/api/backups/{done['pre_restore_backup_id']}"))
    assert pre["status"] == "completed" and pre["type"] == "pre-restore"
    assert pre["project_id"] == pid

    response = account.post(f"/api/restores/{done['id']}/undo")
    assert response.status_code == 200, response.text
    undone = response.json()["restore"]
    assert undone["status"] == "completed" and undone["undo_of"] == done["id"]
    assert undone["backup_id"] == pre["id"] and undone["target_project_id"] == pid
    assert canonical_dump(runtime, pid) == before_restore
    assert lock_holder(runtime, pid) is None
    assert_blob_refcounts(runtime)
    # an undo is itself a restore without a pre-restore backup: it cannot be undone
    assert undone["pre_restore_backup_id"] is None
    assert_error(account.post(f"/api/restores/{undone['id']}/undo"), 409, "RESTORE_NOT_UNDOABLE")

    # a dry run and a restore without a pre-restore backup cannot be undone
    dry = restored(account, backup["id"], dry_run=True)
    assert_error(account.post(f"/api/restores/{dry['id']}/undo"), 409, "RESTORE_NOT_UNDOABLE")
    bare = restored(account, backup["id"], pre_restore_backup=False)
    assert bare["pre_restore_backup_id"] is None
    backups = backup_count(account, pid)
    assert_error(account.post(f"/api/restores/{bare['id']}/undo"), 409, "RESTORE_NOT_UNDOABLE")
    assert canonical_dump(runtime, pid) == in_backup and backup_count(account, pid) == backups
    assert_error(account.post("/api/restores/999999/undo"), 404, "RESTORE_NOT_FOUND")


def test_selective_sections_bring_their_dependencies(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    base = f"/api/projects/{pid}"
    populated = populate_small(account, pid)
    backup = completed_backup(account, pid)
    in_backup = canonical_dump(runtime, pid)
    mutate(account, populated)
    ok(account.post(f"{base}/buckets", json={"name": "extra"}), 201)
    current = canonical_dump(runtime, pid)

    done = restored(account, backup["id"], sections=["files"])
    assert set(done["plan"]["sections"]) == {"files", "storage_buckets"}
    after = canonical_dump(runtime, pid)
    for section in after:
        source = in_backup if section in ("files", "storage_buckets", "blob_hashes") else current
        assert after[section] == source[section], section
    assert after["documents"] != in_backup["documents"]  # documents untouched
    assert_blob_refcounts(runtime)
    # undoing a selective restore puts back those sections only
    undone = ok(account.post(f"/api/restores/{done['id']}/undo"))["restore"]
    assert set(undone["plan"]["sections"]) == {"files", "storage_buckets"}
    assert canonical_dump(runtime, pid) == current
    done = restored(account, backup["id"], sections=["storage_buckets"])  # brings its files
    assert set(done["plan"]["sections"]) == {"files", "storage_buckets"}
    assert canonical_dump(runtime, pid) == after

    done = restored(account, backup["id"], sections=["deployments"])
    delivery = {"deployments", "github_repositories", "web_servers", "ssh_keys"}
    assert set(done["plan"]["sections"]) == delivery
    final = canonical_dump(runtime, pid)
    for section in final:
        source = in_backup if section in delivery else after
        assert final[section] == source[section], section
    (deployment,) = listed(account, pid, "deployments")
    assert deployment["github_repository_id"] == in_backup["github_repositories"][0]["id"]

    for bad in (["nope"], [], ["files", "blobs"], "files"):
        assert_error(restore(account, backup["id"], sections=bad), 422, "VALIDATION_ERROR")
    assert_error(restore(account, backup["id"], surprise=True), 422, "VALIDATION_ERROR")
    assert canonical_dump(runtime, pid) == final


def test_status_endpoints_and_background_restore(
    client: TestClient, account: Account, other_account: Account, project: dict[str, Any]
) -> None:
    pid = project["id"]
    populate(account, pid, file_sizes=(1000,), documents=2)
    backup = completed_backup(account, pid)

    first = restored(account, backup["id"], dry_run=True)
    response = restore(account, backup["id"], wait=False)
    assert response.status_code == 202, response.text
    pending = response.json()
    assert pending["status"] in ("pending", "running") and pending["completed_at"] is None
    assert pending["target_project_id"] == pid and pending["backup_id"] == backup["id"]
    deadline = time.monotonic() + 60
    while True:
        polled = ok(account.get(f"/api/restores/{pending['id']}"))
        if polled["status"] in ("completed", "failed") or time.monotonic() > deadline:
            break
        assert polled["status"] in ("pending", "running")
        time.sleep(0.05)
    assert polled["status"] == "completed", polled
    assert polled["progress"]["percent"] == 100 and polled["completed_at"] is not None
    assert polled["pre_restore_backup_id"] is not None
    for key in ("id", "backup_id", "source_project_id", "target_project_id", "status", "options"):
        assert key in polled
    assert polled["progress"]["phase"] == "completed"

    page = account.get(f"/api/projects/{pid}/restores")
    assert page.status_code == 200 and page.headers["X-Total-Count"] == "2"
    assert [r["id"] for r in page.json()] == [pending["id"], first["id"]]  # newest first
    second = account.get(f"/api/projects/{pid}/restores", params={"limit": 1, "offset": 1})
    assert [r["id"] for r in second.json()] == [first["id"]]
    assert second.headers["X-Total-Count"] == "2"
    assert_error(account.get("/api/restores/999999"), 404, "RESTORE_NOT_FOUND")
    # strangers learn nothing; viewers may not look; developers may
    stranger = other_account.get(f"/api/restores/{first['id']}")
    assert_error(stranger, 404, "RESTORE_NOT_FOUND")
    assert stranger.json() == other_account.get("/api/restores/999999").json()
    assert_error(other_account.get(f"/api/projects/{pid}/restores"), 404, "PROJECT_NOT_FOUND")
    viewer = add_member(account, pid, "viewer", client)
    assert_error(viewer.get(f"/api/restores/{first['id']}"), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(viewer.get(f"/api/projects/{pid}/restores"), 403, "INSUFFICIENT_PERMISSIONS")
    developer = add_member(account, pid, "developer", client)
    assert ok(developer.get(f"/api/restores/{first['id']}"))["id"] == first["id"]
    assert developer.get(f"/api/projects/{pid}/restores").status_code == 200


def test_one_job_per_project_while_a_restore_runs(
    account: Account, project: dict[str, Any], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The restore holds the project's job lock from its request to its end: other jobs
    get BACKUP_IN_PROGRESS, writes RESTORE_IN_PROGRESS, reads keep answering."""
    pid = project["id"]
    base = f"/api/projects/{pid}"
    populate(account, pid, file_sizes=(1000,), documents=2)
    backup = completed_backup(account, pid)
    in_backup = canonical_dump(runtime, pid)
    other = account.create_project("Other")["id"]
    ok(account.delete(f"{base}/collections/posts/documents/doc-0"), 204)
    # the restore's pre-restore snapshot reads the target's blobs: it waits there
    with paused_blob_reads(runtime, monkeypatch) as (reached, release):
        response = restore(account, backup["id"], wait=False)
        assert response.status_code == 202, response.text
        running = response.json()
        assert reached.wait(10)
        polled = ok(account.get(f"/api/restores/{running['id']}"))
        assert polled["status"] == "running"
        assert lock_holder(runtime, pid) is not None
        assert_error(restore(account, backup["id"]), 409, "BACKUP_IN_PROGRESS")
        assert_error(
            account.post(f"{base}/backups", json={"name": "during"}), 409, "BACKUP_IN_PROGRESS"
        )
        body = assert_error(
            account.post(f"{base}/collections/posts/documents", json={"data": {}}),
            409,
            "RESTORE_IN_PROGRESS",
        )
        assert body["error"]["details"]["restore_id"] == running["id"]
        assert account.get(f"{base}/collections/posts/documents").status_code == 200
        # a dry run takes no lock and is not blocked
        assert restore(account, backup["id"], dry_run=True).status_code == 200
        # other projects are not blocked
        ok(account.post(f"/api/projects/{other}/collections", json={"name": "free"}), 201)
        release.set()
        deadline = time.monotonic() + 60
        while polled["status"] not in ("completed", "failed") and time.monotonic() < deadline:
            time.sleep(0.05)
            polled = ok(account.get(f"/api/restores/{running['id']}"))
    assert polled["status"] == "completed", polled
    assert canonical_dump(runtime, pid) == in_backup
    assert lock_holder(runtime, pid) is None
    ok(account.post(f"{base}/collections/posts/documents", json={"data": {}}), 201)


def test_app_user_sign_up_during_a_restore_is_refused(
    client: TestClient,
    account: Account,
    project: dict[str, Any],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No write is acknowledged and then silently lost: a public sign-up while a restore
    holds the project gets RESTORE_IN_PROGRESS too (issue 5, "Concurrency")."""
    pid = project["id"]
    populate(account, pid, file_sizes=(1000,), documents=1)
    backup = completed_backup(account, pid)
    credentials = {"email": "during@example.com", "password": "signed-up-during-restore"}
    with paused_blob_reads(runtime, monkeypatch) as (reached, release):
        running = restore(account, backup["id"], wait=False)
        assert running.status_code == 202, running.text
        assert reached.wait(10)
        signup = client.post(f"/api/projects/{pid}/auth/register", json=credentials)
        release.set()
    deadline = time.monotonic() + 60
    while ok(account.get(f"/api/restores/{running.json()['id']}"))["status"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    if signup.status_code == 201:  # acknowledged: it must have survived the restore
        login = client.post(f"/api/projects/{pid}/auth/login", json=credentials)
        assert login.status_code == 200, f"sign-up answered 201 and was lost: {login.text}"
    else:
        assert_error(signup, 409, "RESTORE_IN_PROGRESS")


def test_refused_restores_write_nothing(
    client: TestClient,
    account: Account,
    other_account: Account,
    project: dict[str, Any],
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = project["id"]
    populate(account, pid, file_sizes=(1000,), documents=2)
    done_backup = completed_backup(account, pid)
    state = canonical_dump(runtime, pid)
    backups = backup_count(account, pid)

    # a backup still creating: BACKUP_INCOMPLETE, even though its lock would also refuse
    with paused_blob_reads(runtime, monkeypatch) as (reached, release):
        running = create_backup(account, pid, "running")
        assert reached.wait(10)
        body = assert_error(restore(account, running["id"]), 409, "BACKUP_INCOMPLETE")
        assert body["error"]["details"]["backup_status"] == "creating"
        # another (complete) backup while a backup runs on the target: the job lock
        assert_error(restore(account, done_backup["id"]), 409, "BACKUP_IN_PROGRESS")
        release.set()
    assert wait_backup(account, running["id"])["status"] == "completed"

    # a failed (cancelled) backup
    with paused_blob_reads(runtime, monkeypatch) as (reached, release):
        cancelled = create_backup(account, pid, "cancelled")
        assert reached.wait(10)
        ok(account.post(f"/api/backups/{cancelled['id']}/cancel"))
        release.set()
    assert wait_backup(account, cancelled["id"])["status"] == "failed"
    assert_error(restore(account, cancelled["id"]), 409, "BACKUP_INCOMPLETE")

    # unknown backup; unknown target; a target the caller is not a member of
    assert_error(restore(account, 424242), 404, "BACKUP_NOT_FOUND")
    assert_error(
        restore(account, done_backup["id"], target_project_id=424242), 404, "PROJECT_NOT_FOUND"
    )
    foreign = other_account.create_project("Not yours")["id"]
    foreign_state = canonical_dump(runtime, foreign)
    body = assert_error(
        restore(account, done_backup["id"], target_project_id=foreign), 404, "PROJECT_NOT_FOUND"
    )
    assert body == restore(account, done_backup["id"], target_project_id=424242).json()
    assert canonical_dump(runtime, foreign) == foreign_state
    assert restore_count(other_account, foreign) == 0 and lock_holder(runtime, foreign) is None

    assert canonical_dump(runtime, pid) == state
    assert restore_count(account, pid) == 0 and lock_holder(runtime, pid) is None
    assert backup_count(account, pid) == backups + 2

    # an archive made under another MASTER_KEY: refused before anything is written
    ok(
        account.post(f"/api/projects/{pid}/collections/posts/documents", json={"data": {"x": 1}}),
        201,
    )
    changed = canonical_dump(runtime, pid)
    backups = backup_count(account, pid)
    with monkeypatch.context() as patch:
        patch.setattr(runtime, "secrets", SecretBox(b"another master key, not the one used"))
        assert_error(restore(account, done_backup["id"], dry_run=True), 422, "MASTER_KEY_MISMATCH")
        response = restore(account, done_backup["id"])
    body = assert_error(response, 422, "MASTER_KEY_MISMATCH")
    assert canonical_dump(runtime, pid) == changed
    assert backup_count(account, pid) == backups  # not even the pre-restore snapshot
    assert lock_holder(runtime, pid) is None
    failed, failed_dry = listed(account, pid, "restores")
    assert failed["status"] == "failed" and failed["error"]["code"] == "MASTER_KEY_MISMATCH"
    assert failed_dry["dry_run"] and failed_dry["error"]["code"] == "MASTER_KEY_MISMATCH"
    assert body["error"]["details"]["restore_id"] == failed["id"]
    actions = [e["action"] for e in audit_entries(account, pid)]
    assert "restores.failed" in actions and "restores.completed" not in actions
    # with the right key, the same backup restores
    restored(account, done_backup["id"])
    assert canonical_dump(runtime, pid) == state
