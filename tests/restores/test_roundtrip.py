"""Restore round trips over the HTTP API (issue 5, acceptance "Round trip"): a populated
project is backed up, changed, and restored into itself or into a new project; the result
is compared row by row and blob by blob with a canonical dump taken right after the backup.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cloudbox.files.gc import collect_garbage
from cloudbox.files.models import Blob, File
from cloudbox.runtime import Runtime
from tests.plugins.api import Account, add_member, assert_error
from tests.plugins.jobs import completed_backup
from tests.plugins.populate import Populated, canonical_dump, populate

SUCCESS = "Backup restore completed successfully"


# -- helpers shared by the restore test modules ----------------------------------------


def populate_small(account: Account, project_id: int) -> Populated:
    """Every resource kind, kept small: the machine running the suite is shared."""
    return populate(account, project_id, file_sizes=(200_000, 1000, 0), documents=10)


def restore(account: Account, backup_id: int, **body: Any) -> Any:
    return account.post(f"/api/backups/{backup_id}/restore", json=body)


def restored(account: Account, backup_id: int, **body: Any) -> dict[str, Any]:
    """A synchronous restore that must succeed; returns the restore object."""
    response = restore(account, backup_id, **body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["restore"]["status"] == "completed", answer
    if not body.get("dry_run"):
        assert answer["message"] == SUCCESS
    target = body.get("target_project_id")
    if target is not None:
        assert answer["target_project_id"] == target
    assert answer["target_project_id"] == answer["restore"]["target_project_id"]
    restore_object: dict[str, Any] = answer["restore"]
    return restore_object


def audit_entries(account: Account, project_id: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = account.get(
            f"/api/projects/{project_id}/audit-logs", params={"limit": 1000, "offset": len(out)}
        )
        assert page.status_code == 200, page.text
        out += page.json()
        if len(out) >= int(page.headers["X-Total-Count"]):
            return out


def listed(account: Account, project_id: int, path: str) -> list[dict[str, Any]]:
    response = account.get(f"/api/projects/{project_id}/{path}", params={"limit": 1000})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if status != 204 else None


def mutate(account: Account, populated: Populated) -> None:
    """Edit, delete and add a bit of everything, so a restore has work in every section."""
    pid = populated.project_id
    base = f"/api/projects/{pid}"
    docs = f"{base}/collections/posts/documents"
    ok(account.patch(f"{docs}/doc-1", json={"data": {"n": -1, "edited": True}}))
    ok(account.delete(f"{docs}/doc-2"), 204)
    ok(account.post(docs, json={"id": "added-later", "data": {"late": True}}), 201)
    first_file = next(iter(populated.files))
    ok(account.delete(f"{base}/buckets/media/files/{first_file}"), 204)
    ok(
        account.post(
            f"{base}/buckets/media/files",
            files={"file": ("late.bin", b"uploaded after the backup", "application/octet-stream")},
        ),
        201,
    )
    (function,) = listed(account, pid, "functions")
    ok(
        account.patch(
            f"{base}/functions/{function['id']}",
            json={"secrets": {"OTHER": "changed-secret"}, "environment": {"MODE": "dev"}},
        )
    )
    for deployment in listed(account, pid, "deployments"):
        ok(account.delete(f"{base}/deployments/{deployment['id']}"), 204)
    for repository in listed(account, pid, "github-repositories"):
        ok(account.delete(f"{base}/github-repositories/{repository['id']}"), 204)
    for server in listed(account, pid, "web-servers"):
        ok(account.delete(f"{base}/web-servers/{server['id']}"), 204)
    for key in listed(account, pid, "ssh-keys"):
        ok(account.delete(f"{base}/ssh-keys/{key['id']}"), 204)
    ok(account.put(f"{base}/cors", json={"allowed_origins": ["https://evil.example.org"]}))
    ok(account.patch(base, json={"settings": {"theme": "light"}}))
    for user in listed(account, pid, "users"):
        ok(account.delete(f"{base}/users/{user['id']}"), 204)
    ok(account.post(f"{base}/collections", json={"name": "added_later"}), 201)
    ok(account.post(f"{base}/api-keys", json={"name": "late", "scopes": ["read"]}), 201)


def download_hashes(account: Account, project_id: int) -> dict[str, str]:
    """file id -> SHA-256 of the bytes the download endpoint returns."""
    out = {}
    for bucket in listed(account, project_id, "buckets"):
        for row in listed(account, project_id, f"buckets/{bucket['name']}/files"):
            url = f"/api/projects/{project_id}/buckets/{bucket['name']}/files/{row['id']}/content"
            response = account.get(url)
            assert response.status_code == 200, response.text
            out[row["id"]] = hashlib.sha256(response.content).hexdigest()
    return out


def assert_blob_refcounts(runtime: Runtime) -> None:
    """Every blob counts exactly the file rows (of all projects) that point at it, so the
    collector never deletes bytes in use nor keeps garbage forever."""
    with runtime.db.session() as db:
        counted = dict(db.execute(select(Blob.sha256, Blob.refcount)).all())
        used = dict(db.execute(select(File.sha256, func.count()).group_by(File.sha256)).all())
    assert {sha: n for sha, n in counted.items() if n} == used


def app_login(client: TestClient, project_id: int, populated: Populated) -> Any:
    return client.post(
        f"/api/projects/{project_id}/auth/login",
        json={"email": populated.app_user_email, "password": populated.app_user_password},
    )


# -- tests -----------------------------------------------------------------------------


def test_round_trip_into_the_same_project(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    populated = populate_small(account, pid)
    backup = completed_backup(account, pid)
    expected = canonical_dump(runtime, pid)
    assert all(expected[name] for name in expected if name != "blob_hashes"), (
        "populate missed a kind"
    )

    mutate(account, populated)
    # the project's identity is the target's own: renamed and joined after the backup
    ok(account.patch(f"/api/projects/{pid}", json={"name": "Renamed", "description": "later"}))
    add_member(account, pid, "developer", client)
    identity = ok(account.get(f"/api/projects/{pid}"))
    members = ok(account.get(f"/api/projects/{pid}/members"))
    changed = canonical_dump(runtime, pid)
    for section in ("documents", "files", "functions", "ssh_keys", "deployments", "users"):
        assert changed[section] != expected[section], section
    assert_error(app_login(client, pid, populated), 401, "INVALID_CREDENTIALS")
    audit_before = audit_entries(account, pid)

    done = restored(account, backup["id"])
    assert done["target_project_id"] == pid and done["source_project_id"] == pid
    assert done["backup_id"] == backup["id"] and done["dry_run"] is False
    assert done["warnings"] == [] and done["error"] is None
    assert done["progress"]["percent"] == 100 and done["created_by"]["email"] == account.email

    # every row, id, reference and blob is the backup's
    assert canonical_dump(runtime, pid) == expected
    assert_blob_refcounts(runtime)
    # the target keeps its name, description and members
    after = ok(account.get(f"/api/projects/{pid}"))
    assert (after["name"], after["description"]) == ("Renamed", "later")
    assert {k: after[k] for k in identity if k != "updated_at" and k != "settings"} == {
        k: identity[k] for k in identity if k != "updated_at" and k != "settings"
    }
    assert after["settings"] == {"theme": "dark", "limits": {"rps": 10}}
    assert ok(account.get(f"/api/projects/{pid}/members")) == members
    # the audit log is append-only and holds the restore
    audit_after = audit_entries(account, pid)
    after_by_id = {entry["id"]: entry for entry in audit_after}
    for entry in audit_before:
        assert after_by_id.get(entry["id"]) == entry, entry
    completed = [e for e in audit_after if e["action"] == "restores.completed"]
    assert len(completed) == 1 and completed[0]["resource_id"] == str(done["id"])
    assert not any(e["imported"] for e in audit_after)
    # the bytes come back through the API, and the app user signs in with the old password
    assert download_hashes(account, pid) == populated.files
    login = app_login(client, pid, populated)
    assert login.status_code == 200, login.text
    assert login.json()["user"]["email"] == populated.app_user_email
    # the restored API key works again (it was the project's own)
    key = client.get(f"/api/projects/{pid}/collections", headers={"X-API-Key": populated.api_key})
    assert key.status_code == 200, key.text
    # the restore released the project: writes and new backups go through
    ok(account.post(f"/api/projects/{pid}/collections", json={"name": "after"}), 201)
    completed_backup(account, pid, "after restore")


def _without_credentials_state(dump: dict[str, Any]) -> dict[str, Any]:
    out = dict(dump)
    out["ssh_keys"] = [{**row, "is_active": None} for row in dump["ssh_keys"]]
    out["api_keys"] = [{**row, "is_active": None, "key_hash": None} for row in dump["api_keys"]]
    out["function_domains"] = []
    return out


def test_round_trip_into_another_project(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    source = project["id"]
    populated = populate_small(account, source)
    backup = completed_backup(account, source)
    expected = canonical_dump(runtime, source)
    source_audit = audit_entries(account, source)
    target = account.create_project("Copy", description="the copy")["id"]
    # the target has a life of its own, which the restore replaces (its audit log stays)
    theirs = f"/api/projects/{target}"
    ok(account.post(f"{theirs}/collections", json={"name": "theirs"}), 201)
    ok(
        account.post(f"{theirs}/collections/theirs/documents", json={"id": "doc-1", "data": {}}),
        201,
    )
    ok(account.post(f"{theirs}/api-keys", json={"name": "own", "scopes": ["read"]}), 201)
    ok(account.post(f"{theirs}/buckets", json={"name": "media"}), 201)
    target_identity = ok(account.get(f"/api/projects/{target}"))
    target_audit = audit_entries(account, target)

    dry = restored(account, backup["id"], target_project_id=target, dry_run=True)
    done = restored(account, backup["id"], target_project_id=target)
    assert done["source_project_id"] == source and done["target_project_id"] == target
    assert done["plan"] == dry["plan"] and done["warnings"] == dry["warnings"]
    assert dry["plan"]["sections"]["function_domains"] == {
        "create": 0,
        "replace": 0,
        "remove": 0,
        "skip": 1,
    }
    assert dry["plan"]["sections"]["documents"]["remove"] == 1

    copy = canonical_dump(runtime, target)
    # everything but credential state and the server-unique domain is identical,
    # ids and references included (the dump holds no project ids)
    assert _without_credentials_state(copy) == _without_credentials_state(expected)
    assert copy["function_domains"] == []  # the source still uses its domain
    (domain,) = expected["function_domains"]
    warnings = [w for w in done["warnings"] if w["code"] == "DOMAIN_TAKEN"]
    assert len(warnings) == 1 and warnings[0]["id"] == domain["id"], done["warnings"]
    assert domain["domain"] in warnings[0]["message"]
    # credentials arrive disabled; an API key still live on the source gets an unusable hash
    assert copy["ssh_keys"] and all(row["is_active"] is False for row in copy["ssh_keys"])
    assert copy["api_keys"] and all(row["is_active"] is False for row in copy["api_keys"])
    source_hashes = {row["key_hash"] for row in expected["api_keys"]}
    assert not source_hashes & {row["key_hash"] for row in copy["api_keys"]}
    by_key = {"X-API-Key": populated.api_key}
    assert client.get(f"/api/projects/{source}/collections", headers=by_key).status_code == 200
    assert_error(
        client.get(f"/api/projects/{target}/collections", headers=by_key), 404, "PROJECT_NOT_FOUND"
    )
    # the source is untouched, apart from the audit entry of the restore
    assert canonical_dump(runtime, source) == expected
    source_after = {e["id"] for e in audit_entries(account, source)}
    assert {e["id"] for e in source_audit} <= source_after
    # the target keeps its own name and description; its settings become the backup's
    after = ok(account.get(f"/api/projects/{target}"))
    assert (after["name"], after["description"]) == ("Copy", "the copy")
    assert after["created_at"] == target_identity["created_at"]
    assert after["settings"] == {"theme": "dark", "limits": {"rps": 10}}
    # names, ids and references survive
    assert {c["name"] for c in listed(account, target, "collections")} == {"posts", "empty"}
    assert {b["name"] for b in listed(account, target, "buckets")} == {"media"}
    docs = listed(account, target, "collections/posts/documents")
    assert {d["id"] for d in docs} == set(populated.documents)
    (deployment,) = listed(account, target, "deployments")
    (repository,) = listed(account, target, "github-repositories")
    (server,) = listed(account, target, "web-servers")
    (ssh_key,) = listed(account, target, "ssh-keys")
    assert deployment["github_repository_id"] == repository["id"]
    assert deployment["web_server_id"] == server["id"]
    assert repository["ssh_key_id"] == server["ssh_key_id"] == ssh_key["id"]
    assert ssh_key["is_active"] is False
    # the bytes and the app user's password came along
    assert download_hashes(account, target) == populated.files
    login = app_login(client, target, populated)
    assert login.status_code == 200, login.text
    # the restore is logged on both projects; imported entries are marked
    target_audit = audit_entries(account, target)
    assert any(e["action"] == "restores.completed" for e in target_audit)
    assert any(
        e["action"] == "restores.completed" and e["resource_id"] == str(done["id"])
        for e in audit_entries(account, source)
    )
    imported = [e for e in target_audit if e["imported"]]
    source_by_id = {e["id"]: e for e in source_audit}
    assert imported and {e["id"] for e in imported} <= set(source_by_id)
    for entry in imported:  # imported entries keep their timestamps, actors and details
        original = source_by_id[entry["id"]]
        assert entry["project_id"] == target
        assert {**entry, "project_id": source, "imported": False} == original
    audit_after = {e["id"]: e for e in audit_entries(account, target)}
    for entry in target_audit:
        assert audit_after.get(entry["id"]) == entry, entry
    assert_blob_refcounts(runtime)


def test_cross_project_keep_credentials_active(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    source = project["id"]
    populate(account, source, file_sizes=(1000,), documents=1)
    backup = completed_backup(account, source)
    expected = canonical_dump(runtime, source)
    target = account.create_project("Kept")["id"]

    done = restored(account, backup["id"], target_project_id=target, keep_credentials_active=True)
    copy = canonical_dump(runtime, target)
    assert copy["ssh_keys"] == expected["ssh_keys"]
    assert all(row["is_active"] is True for row in copy["ssh_keys"])
    # one API key cannot be live in two projects: it is not brought over live
    assert not {r["key_hash"] for r in copy["api_keys"] if r["is_active"]} & {
        r["key_hash"] for r in expected["api_keys"]
    }
    assert {w["code"] for w in done["warnings"]} >= {"DOMAIN_TAKEN"}


def test_cross_project_domain_free_again_is_restored(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    """A domain is only skipped while another project uses it."""
    source = project["id"]
    populate(account, source, file_sizes=(), documents=1)
    backup = completed_backup(account, source)
    expected = canonical_dump(runtime, source)
    for domain in listed(account, source, "function-domains"):
        ok(account.delete(f"/api/projects/{source}/function-domains/{domain['id']}"), 204)
    target = account.create_project("Gets the domain")["id"]

    done = restored(account, backup["id"], target_project_id=target)
    assert not [w for w in done["warnings"] if w["code"] == "DOMAIN_TAKEN"]
    assert canonical_dump(runtime, target)["function_domains"] == expected["function_domains"]


def test_one_backup_restores_into_several_projects(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    """Credentials brought over disabled stay unique server-wide: the same backup goes
    into a second project, and again into the first."""
    source = project["id"]
    populated = populate(account, source, file_sizes=(1000,), documents=1)
    backup = completed_backup(account, source)
    expected = _without_credentials_state(canonical_dump(runtime, source))
    first = account.create_project("First")["id"]
    second = account.create_project("Second")["id"]
    for target in (first, second, first):
        restored(account, backup["id"], target_project_id=target)
        assert _without_credentials_state(canonical_dump(runtime, target)) == expected
    hashes = [
        row["key_hash"]
        for pid in (source, first, second)
        for row in canonical_dump(runtime, pid)["api_keys"]
    ]
    assert len(hashes) == len(set(hashes)) == 3
    by_key = {"X-API-Key": populated.api_key}
    assert (
        account.client.get(f"/api/projects/{source}/collections", headers=by_key).status_code == 200
    )
    assert_blob_refcounts(runtime)


def test_a_disabled_copy_elsewhere_does_not_break_the_key_at_home(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    """A key deleted by mistake, the backup copied into another project meanwhile (where
    the key arrives disabled, for good), then the project restored from the same backup:
    the project gets its key back, working, exactly as backed up."""
    source = project["id"]
    populated = populate(account, source, file_sizes=(), documents=1)
    backup = completed_backup(account, source)
    expected = canonical_dump(runtime, source)
    for key in listed(account, source, "api-keys"):
        ok(account.delete(f"/api/projects/{source}/api-keys/{key['id']}"), 204)
    copy = account.create_project("Copy")["id"]
    restored(account, backup["id"], target_project_id=copy)
    (copied,) = canonical_dump(runtime, copy)["api_keys"]
    assert copied["is_active"] is False

    restored(account, backup["id"])
    assert canonical_dump(runtime, source) == expected
    by_key = {"X-API-Key": populated.api_key}
    assert client.get(f"/api/projects/{source}/collections", headers=by_key).status_code == 200


def test_contents_the_store_holds_are_not_written_again(
    account: Account, project: dict[str, Any], runtime: Runtime, monkeypatch: Any
) -> None:
    """A restore stages only the blobs the store lacks: into another project on the same
    server it writes no file content at all, and the plan says there were no new bytes;
    once the contents are collected, the same restore writes each one back."""
    source = project["id"]
    populate(account, source, file_sizes=(5000, 1000, 7), documents=3)
    backup = completed_backup(account, source)
    with runtime.db.session() as session:
        contents = dict(
            session.execute(select(File.sha256, File.size).where(File.project_id == source)).all()
        )
    writes: list[str | None] = []
    original = runtime.blobs.put_stream

    def counting(chunks: Any, **kwargs: Any) -> Any:
        writes.append(kwargs.get("expected_sha256"))
        return original(chunks, **kwargs)

    monkeypatch.setattr(runtime.blobs, "put_stream", counting)
    first = account.create_project("First")["id"]
    done = restored(account, backup["id"], target_project_id=first)
    assert writes == []
    blobs = done["plan"]["blobs"]
    assert blobs == {"count": len(contents), "bytes": sum(contents.values()), "new_bytes": 0}
    # the copy and the source's files go, their contents are collected: the next restore
    # stages them again
    ok(account.delete(f"/api/projects/{first}"), 204)
    for file in listed(account, source, "buckets/media/files"):
        ok(account.delete(f"/api/projects/{source}/buckets/media/files/{file['id']}"), 204)
    collect_garbage(runtime.db.transaction, runtime.blobs, 0)
    assert not list(runtime.blobs.iter_blobs())
    second = account.create_project("Second")["id"]
    done = restored(account, backup["id"], target_project_id=second)
    assert sorted(writes) == sorted(contents) == sorted(set(_file_digests(runtime, second)))
    assert done["plan"]["blobs"]["new_bytes"] == sum(contents.values())
    assert_blob_refcounts(runtime)


def _file_digests(runtime: Runtime, project_id: int) -> list[str]:
    with runtime.db.session() as session:
        return list(session.scalars(select(File.sha256).where(File.project_id == project_id)))
