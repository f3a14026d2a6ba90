"""Backup policies through the HTTP API: CRUD with paging, validation that writes
nothing, admins only, secrets write-only, SSRF refusal, audit, the retention dry run,
and storage usage (project and server-wide)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from cloudbox.auth.models import User
from cloudbox.backups.models import Backup
from cloudbox.policies.models import BackupPolicy
from cloudbox.runtime import Runtime
from tests.plugins.api import Account, add_member, assert_error, register
from tests.plugins.jobs import completed_backup
from tests.policies.helpers import SECRET, make_policy

BASE = "/api/projects/{}/backup-policies"


def _count(runtime: Runtime) -> int:
    with runtime.db.session() as db:
        return int(db.scalar(select(func.count()).select_from(BackupPolicy)) or 0)


def test_create_list_get_update_delete(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    created = make_policy(
        account,
        pid,
        name="nightly",
        schedule="30 2 * * *",
        timezone="Europe/Berlin",
        retention={"keep_last": 7, "keep_weekly": 4},
        stale_after_hours=48,
        webhook_url="http://127.0.0.1:9/hook",
        webhook_secret=SECRET,
    )
    assert created["project_id"] == pid and created["enabled"] is True
    assert created["schedule"] == "30 2 * * *" and created["timezone"] == "Europe/Berlin"
    assert created["retention"] == {
        "keep_last": 7,
        "keep_daily": None,
        "keep_weekly": 4,
        "keep_monthly": None,
        "max_age_days": None,
    }
    assert created["verify_after_backup"] is True and created["restore_drill"] is False
    assert created["webhook"] == {"origin": "http://127.0.0.1:9", "has_secret": True}
    assert created["next_run_at"].endswith(("00:30:00Z", "01:30:00Z"))  # 02:30 Berlin
    make_policy(account, pid, name="alpha", schedule="0 * * * *")
    make_policy(account, pid, name="zulu", schedule="0 0 * * 0")

    listed = account.get(BASE.format(pid))
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "3"
    assert [p["name"] for p in listed.json()] == ["nightly", "alpha", "zulu"]
    page = account.get(BASE.format(pid), params={"order_by": "-name", "limit": 2, "offset": 1})
    assert [p["name"] for p in page.json()] == ["nightly", "alpha"]
    assert page.headers["X-Total-Count"] == "3"
    assert_error(
        account.get(BASE.format(pid), params={"order_by": "webhook_secret"}),
        422,
        "VALIDATION_ERROR",
    )

    url = f"/api/backup-policies/{created['id']}"
    assert account.get(url).json() == created
    patched = account.patch(
        url, json={"schedule": "0 4 * * *", "timezone": "UTC", "retention": {"keep_daily": 3}}
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["next_run_at"].endswith("T04:00:00Z")
    # retention fields not named keep their values
    assert body["retention"]["keep_last"] == 7 and body["retention"]["keep_daily"] == 3
    assert body["webhook"] == created["webhook"]
    cleared = account.patch(url, json={"webhook_url": None, "stale_after_hours": None}).json()
    assert cleared["webhook"] is None and cleared["stale_after_hours"] is None
    disabled = account.patch(url, json={"enabled": False}).json()
    assert disabled["enabled"] is False and disabled["next_run_at"] is None

    assert account.delete(url).status_code == 204
    assert_error(account.get(url), 404, "POLICY_NOT_FOUND")
    assert_error(account.delete(url), 404, "POLICY_NOT_FOUND")
    assert account.get(BASE.format(pid)).headers["X-Total-Count"] == "2"


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"schedule": "* * * * * *"}, "INVALID_SCHEDULE"),
    ({"schedule": "@daily x y z"}, "INVALID_SCHEDULE"),
    ({"schedule": "0 0 31 2 *"}, "INVALID_SCHEDULE"),
    ({"schedule": "0 25 * * *"}, "INVALID_SCHEDULE"),
    ({"timezone": "Mars/Olympus_Mons"}, "INVALID_TIMEZONE"),
    ({"retention": {"keep_last": 0}}, "VALIDATION_ERROR"),
    ({"retention": {"keep_hourly": 3}}, "VALIDATION_ERROR"),
    ({"name": ""}, "VALIDATION_ERROR"),
    ({"name": "x" * 151}, "VALIDATION_ERROR"),
    ({"surprise": True}, "VALIDATION_ERROR"),
    ({"stale_after_hours": 12}, "VALIDATION_ERROR"),  # nobody to notify
    ({"webhook_url": "http://127.0.0.1:9/h"}, "VALIDATION_ERROR"),  # no secret
    ({"webhook_url": "ftp://example.com/x", "webhook_secret": SECRET}, "INVALID_WEBHOOK_URL"),
    ({"webhook_url": "http://u:p@127.0.0.1/x", "webhook_secret": SECRET}, "INVALID_WEBHOOK_URL"),
    ({"webhook_url": "http://x", "webhook_secret": "short"}, "VALIDATION_ERROR"),
]


def test_invalid_input_writes_nothing(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    policy = make_policy(account, project["id"])
    url = f"/api/backup-policies/{policy['id']}"
    for body, code in INVALID:
        full = {"name": "p", "schedule": "0 3 * * *", **body}
        assert_error(account.post(BASE.format(project["id"]), json=full), 422, code)
        assert _count(runtime) == 1
        if "surprise" not in body and "stale_after_hours" not in body:
            assert_error(account.patch(url, json=body), 422, code)
    for nulled in ("name", "schedule", "enabled", "retention"):
        assert_error(account.patch(url, json={nulled: None}), 422, "VALIDATION_ERROR")
    assert account.get(url).json() == policy


PRIVATE = [
    "http://10.1.2.3/hook",
    "http://192.168.0.10:8080/hook",
    "http://172.16.5.4/hook",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://100.64.0.1/hook",  # shared address space (CGNAT)
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://127.0.0.2/hook",  # loopback, but not the allow-listed 127.0.0.1
]


def test_webhook_to_a_private_address_is_refused_at_creation(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    policy = make_policy(account, project["id"])
    for url in PRIVATE:
        response = account.post(
            BASE.format(project["id"]),
            json={
                "name": "p",
                "schedule": "0 3 * * *",
                "webhook_url": url,
                "webhook_secret": SECRET,
            },
        )
        assert_error(response, 422, "WEBHOOK_TARGET_FORBIDDEN")
        assert _count(runtime) == 1
        # and on update
        assert_error(
            account.patch(
                f"/api/backup-policies/{policy['id']}",
                json={"webhook_url": url, "webhook_secret": SECRET},
            ),
            422,
            "WEBHOOK_TARGET_FORBIDDEN",
        )
    assert account.get(f"/api/backup-policies/{policy['id']}").json()["webhook"] is None


def test_admins_only(client: TestClient, account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    policy = make_policy(account, pid)
    url = f"/api/backup-policies/{policy['id']}"
    admin = add_member(account, pid, "admin", client)
    assert admin.get(url).status_code == 200
    assert admin.patch(url, json={"name": "renamed"}).status_code == 200
    for role in ("developer", "viewer"):
        member = add_member(account, pid, role, client)
        assert_error(member.get(BASE.format(pid)), 403, "INSUFFICIENT_PERMISSIONS")
        assert_error(
            member.post(BASE.format(pid), json={"name": "x", "schedule": "0 3 * * *"}),
            403,
            "INSUFFICIENT_PERMISSIONS",
        )
        assert_error(member.get(url), 403, "INSUFFICIENT_PERMISSIONS")
        assert_error(member.patch(url, json={"name": "x"}), 403, "INSUFFICIENT_PERMISSIONS")
        assert_error(member.delete(url), 403, "INSUFFICIENT_PERMISSIONS")
        assert_error(member.get(f"{url}/retention/dry-run"), 403, "INSUFFICIENT_PERMISSIONS")
    stranger = register(client)
    for method in ("GET", "PATCH", "DELETE"):
        response = client.request(method, url, headers=stranger.headers, json={})
        assert_error(response, 404, "POLICY_NOT_FOUND")
    assert_error(stranger.get(f"{url}/runs"), 404, "POLICY_NOT_FOUND")
    assert account.get(url).json()["name"] == "renamed"


def test_secrets_are_write_only(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    token_url = "http://127.0.0.1:9/hooks/T000/B000/very-secret-path?token=tok-9f8e7d"
    created = account.post(
        BASE.format(project["id"]),
        json={
            "name": "p",
            "schedule": "0 3 * * *",
            "webhook_url": token_url,
            "webhook_secret": SECRET,
        },
    )
    assert created.status_code == 201
    responses = [
        created.text,
        account.get(BASE.format(project["id"])).text,
        account.get(f"/api/backup-policies/{created.json()['id']}").text,
        account.patch(f"/api/backup-policies/{created.json()['id']}", json={"name": "q"}).text,
    ]
    for body in responses:
        assert SECRET not in body and "very-secret-path" not in body and "tok-9f8e7d" not in body
    with runtime.db.session() as db:
        dump = " ".join(
            str(v) for row in db.execute(text("SELECT * FROM backup_policies")) for v in row
        )
    assert SECRET not in dump and "very-secret-path" not in dump and "tok-9f8e7d" not in dump


def test_changes_are_audited(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    policy = make_policy(account, pid)
    account.patch(f"/api/backup-policies/{policy['id']}", json={"name": "renamed"})
    account.delete(f"/api/backup-policies/{policy['id']}")
    entries = account.get(f"/api/projects/{pid}/audit-logs", params={"limit": 100}).json()
    actions = {(e["action"], e["resource_id"]) for e in entries}
    for action in ("create", "update", "delete"):
        assert (f"backup_policies.{action}", policy["id"]) in actions
    assert all(e["actor_email"] == account.email for e in entries if "policies" in e["action"])


def test_retention_dry_run_deletes_nothing(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    policy = make_policy(account, pid, retention={"keep_last": 1})
    manual = completed_backup(account, pid, "manual one")
    autos = [completed_backup(account, pid, f"auto {n}") for n in range(3)]
    with runtime.db.transaction() as db:
        for n, item in enumerate(autos):
            db.execute(
                update(Backup)
                .where(Backup.id == item["id"])
                .values(type="automatic", policy_id=policy["id"])
            )
            row = db.get(Backup, item["id"])
            assert row is not None
            row.created_at = row.created_at - timedelta(hours=3 - n)
        old_manual = db.get(Backup, manual["id"])
        assert old_manual is not None
        old_manual.created_at = old_manual.created_at - timedelta(hours=5)
    url = f"/api/backup-policies/{policy['id']}/retention/dry-run"
    preview = account.get(url)
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert [i["backup_id"] for i in body["keep"]] == [autos[2]["id"]]
    assert body["keep"][0]["reasons"] == [
        "keep_last",
        "protected: the project's newest completed backup",
    ]
    assert [i["backup_id"] for i in body["delete"]] == [autos[1]["id"], autos[0]["id"]]
    assert body["delete_bytes"] == autos[0]["size"] + autos[1]["size"]
    assert manual["id"] not in {i["backup_id"] for i in body["keep"] + body["delete"]}
    wider = account.get(url, params={"keep_last": 5}).json()
    assert wider["delete"] == [] and wider["retention"]["keep_last"] == 5
    with runtime.db.session() as db:
        assert db.scalar(select(func.count()).select_from(Backup)) == 4


def test_usage_is_the_sum_of_the_archives(
    client: TestClient, account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    empty = account.get(f"/api/projects/{pid}/backups/usage")
    assert empty.status_code == 200
    assert empty.json() == {
        "count": 0,
        "total_bytes": 0,
        "by_type": {},
        "oldest": None,
        "newest": None,
        "newest_verified_at": None,
        "quota_bytes": None,
    }
    account.post(f"/api/projects/{pid}/collections", json={"name": "posts"})
    first = completed_backup(account, pid, "one")
    account.post(
        f"/api/projects/{pid}/collections/posts/documents", json={"data": {"x": "y" * 5000}}
    )
    second = completed_backup(account, pid, "two")
    assert account.post(f"/api/backups/{second['id']}/verify").json()["ok"] is True
    with runtime.db.transaction() as db:
        db.execute(update(Backup).where(Backup.id == second["id"]).values(type="automatic"))
    usage = account.get(f"/api/projects/{pid}/backups/usage").json()
    sizes = []
    for backup in (first, second):
        path = runtime.archives.local_path(backup["file_path"])
        assert path is not None
        sizes.append(path.stat().st_size)
    assert usage["count"] == 2 and usage["total_bytes"] == sum(sizes)
    assert usage["by_type"] == {
        "manual": {"count": 1, "total_bytes": sizes[0]},
        "automatic": {"count": 1, "total_bytes": sizes[1]},
    }
    assert usage["oldest"] == first["created_at"] and usage["newest"] == second["created_at"]
    assert usage["newest_verified_at"] is not None
    # developers may look; viewers may not
    dev = add_member(account, pid, "developer", client)
    assert dev.get(f"/api/projects/{pid}/backups/usage").json() == usage
    viewer = add_member(account, pid, "viewer", client)
    assert_error(viewer.get(f"/api/projects/{pid}/backups/usage"), 403, "INSUFFICIENT_PERMISSIONS")

    # the server-wide view: platform admins only
    other = register(client)
    other_pid = other.create_project("Other")["id"]
    third = completed_backup(other, other_pid, "three")
    path = runtime.archives.local_path(third["file_path"])
    assert path is not None
    assert_error(account.get("/api/admin/backups/usage"), 403, "INSUFFICIENT_PERMISSIONS")
    with runtime.db.transaction() as db:
        db.execute(update(User).where(User.email == account.email).values(is_platform_admin=True))
    server = account.get("/api/admin/backups/usage")
    assert server.status_code == 200, server.text
    body = server.json()
    assert body["count"] == 3 and body["total_bytes"] == sum(sizes) + path.stat().st_size
    assert server.headers["X-Total-Count"] == "2"
    assert [p["project_id"] for p in body["projects"]] == sorted(
        [pid, other_pid], key=lambda p: -(sum(sizes) if p == pid else path.stat().st_size)
    )
    ours = next(p for p in body["projects"] if p["project_id"] == pid)
    assert ours["total_bytes"] == sum(sizes) and ours["project_name"] == "Main"
    assert ours["by_type"] == usage["by_type"]
    limited = account.get("/api/admin/backups/usage", params={"limit": 1, "order_by": "project_id"})
    assert [p["project_id"] for p in limited.json()["projects"]] == [min(pid, other_pid)]
