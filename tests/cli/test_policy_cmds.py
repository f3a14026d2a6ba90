"""`cloudbox backup policy list|create|show|update|delete|runs|dry-run` and
`cloudbox backup usage [--all]` against a live server (no webhook allow-list).

A policy fires at most once a minute, so a policy's run history and automatic backups
are written into the server's database directly (``ServerDb``) instead of waited for.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

from cloudbox.auth.models import User as UserRow
from cloudbox.backups.models import Backup as BackupRow
from cloudbox.cli.client import EXIT_AUTH, EXIT_CONFLICT, EXIT_NOT_FOUND, EXIT_USAGE
from cloudbox.db.ids import new_id
from cloudbox.policies.models import PolicyRun
from tests.cli.conftest import Cli, User, completed_backup, register
from tests.plugins.server import ServerProcess

pytestmark = pytest.mark.e2e

#: never fires during a test run (1 January, 03:00)
YEARLY = "0 3 1 1 *"
SECRET = "a-long-random-shared-secret"
#: a public address literal: accepted without DNS, never contacted (nothing fails)
PUBLIC_HOOK = "https://1.1.1.1/cloudbox/hook-token"
MISSING = "0000000000000000000000000z"


class ServerDb:
    """The live server's SQLite database, written alongside the server (WAL)."""

    def __init__(self, server: ServerProcess) -> None:
        url = f"sqlite:///{server.data_dir / 'cloudbox.db'}"
        self.engine = create_engine(url, connect_args={"timeout": 30})

    def session(self) -> Session:
        return Session(self.engine)


@pytest.fixture(scope="module")
def server_db(live: ServerProcess) -> Iterator[ServerDb]:
    db = ServerDb(live)
    yield db
    db.engine.dispose()


def other_cli(live: ServerProcess, tmp_path: Path, user: User, name: str) -> Cli:
    cli = Cli(endpoint=live.base_url, config_dir=tmp_path / name)
    cli.login(user)
    return cli


def error_of(result: Any) -> dict[str, Any]:
    """The JSON error document a failed `--json` command printed."""
    error: dict[str, Any] = json.loads(result.stdout)["error"]
    return error


# -- create, list, show, update, delete ----------------------------------------------------------


def test_policy_lifecycle(owner_cli: Cli, owner: User) -> None:
    project_id = owner.project("Policies")
    created = owner_cli.json(
        "backup", "policy", "create", "nightly", "--project", project_id,
        "--schedule", "30 2 * * *", "--timezone", "Europe/Berlin",
        "--keep-last", 7, "--keep-daily", 14, "--keep-weekly", 8, "--keep-monthly", 12,
        "--max-age-days", 400, "--no-verify", "--drill", "--disable",
    )  # fmt: skip
    assert created["project_id"] == project_id
    assert (created["name"], created["schedule"], created["timezone"]) == (
        "nightly",
        "30 2 * * *",
        "Europe/Berlin",
    )
    assert created["retention"] == {
        "keep_last": 7,
        "keep_daily": 14,
        "keep_weekly": 8,
        "keep_monthly": 12,
        "max_age_days": 400,
    }
    assert created["verify_after_backup"] is False and created["restore_drill"] is True
    assert created["enabled"] is False and created["next_run_at"] is None
    policy_id = created["id"]

    plain = owner_cli.ok(
        "backup", "policy", "create", "hourly", "--project", project_id, "--schedule", "0 * * * *"
    ).stdout
    assert plain.startswith("Policy ") and "hourly" in plain
    assert "0 * * * * (UTC)" in plain and "none (keeps every backup)" in plain

    listed = owner_cli.json("backup", "policy", "list", "--project", project_id)
    assert [p["name"] for p in listed] == ["nightly", "hourly"]
    page = owner_cli.json("backup", "policy", "list", "--project", project_id, "--limit", 1)
    assert [p["name"] for p in page] == ["nightly"]
    table = owner_cli.ok("backup", "policy", "list", "--project", project_id, "--limit", 1).stdout
    assert table.startswith("ID") and policy_id in table and "keep_last=7" in table
    assert "(1 of 2; use --limit/--offset for more)" in table

    assert owner_cli.json("backup", "policy", "show", policy_id) == created
    shown = owner_cli.ok("backup", "policy", "show", policy_id, "--project", project_id).stdout
    assert f"Policy {policy_id}: nightly" in shown
    assert "30 2 * * * (Europe/Berlin)" in shown and "- (disabled)" in shown
    assert "keep_last=7, keep_daily=14, keep_weekly=8, keep_monthly=12, max_age_days=400" in shown

    updated = owner_cli.json(
        "backup", "policy", "update", policy_id, "--name", "nightly-2", "--keep-daily", 0,
        "--keep-last", 3, "--enable", "--verify", "--no-drill", "--schedule", "0 4 * * *",
        "--timezone", "UTC",
    )  # fmt: skip
    assert updated["name"] == "nightly-2"
    assert updated["retention"]["keep_daily"] is None and updated["retention"]["keep_last"] == 3
    assert updated["retention"]["keep_weekly"] == 8  # not named: unchanged
    assert updated["enabled"] is True and updated["next_run_at"].endswith("T04:00:00Z")
    assert updated["verify_after_backup"] is True and updated["restore_drill"] is False
    human = owner_cli.ok("backup", "policy", "update", policy_id, "--disable").stdout
    assert "enabled     no" in human

    refused = owner_cli("backup", "policy", "delete", policy_id, input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.stderr
    deleted = owner_cli.json("backup", "policy", "delete", policy_id, "-y")
    assert deleted == {"id": policy_id, "deleted": True}
    gone = owner_cli("backup", "policy", "show", policy_id, "--json")
    assert gone.exit_code == EXIT_NOT_FOUND
    assert error_of(gone)["code"] == "POLICY_NOT_FOUND" and error_of(gone)["status"] == 404
    assert "POLICY_NOT_FOUND" in gone.stderr


def test_webhook_secret_is_prompted_hidden_and_never_shown(owner_cli: Cli, owner: User) -> None:
    project_id = owner.project("Hooks")
    result = owner_cli(
        "backup", "policy", "create", "hooked", "--project", project_id, "--schedule", YEARLY,
        "--webhook-url", PUBLIC_HOOK, "--webhook-secret", "--stale-after-hours", 36, "--json",
        input=f"{SECRET}\n{SECRET}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Webhook secret" in result.stderr  # the prompt goes to stderr, stdout is JSON
    assert SECRET not in result.output
    created = json.loads(result.stdout)
    assert created["webhook"] == {"origin": "https://1.1.1.1", "has_secret": True}
    assert created["stale_after_hours"] == 36
    assert "hook-token" not in result.stdout
    policy_id = created["id"]
    shown = owner_cli.ok("backup", "policy", "show", policy_id).stdout
    assert "https://1.1.1.1 (signed)" in shown and "36 h" in shown

    rotated = owner_cli.json(
        "backup", "policy", "update", policy_id, "--webhook-secret", "another-secret-0123456789"
    )
    assert rotated["webhook"] == created["webhook"]
    clash = owner_cli("backup", "policy", "update", policy_id, "--remove-webhook",
                      "--webhook-url", PUBLIC_HOOK)  # fmt: skip
    assert clash.exit_code == EXIT_USAGE
    removed = owner_cli.json("backup", "policy", "update", policy_id, "--remove-webhook")
    assert removed["webhook"] is None and removed["stale_after_hours"] is None


# -- errors and exit codes --------------------------------------------------------------------


def test_policy_errors_and_exit_codes(
    owner_cli: Cli, owner: User, stranger: User, live: ServerProcess, tmp_path: Path
) -> None:
    project_id = owner.project("Errors")
    create = ("backup", "policy", "create", "p", "--project", project_id, "--schedule")

    forbidden = owner_cli(*create, YEARLY, "--webhook-url", "http://127.0.0.1/hook",
                          "--webhook-secret", SECRET, "--json")  # fmt: skip
    assert forbidden.exit_code == EXIT_USAGE
    assert error_of(forbidden)["code"] == "WEBHOOK_TARGET_FORBIDDEN"
    assert error_of(forbidden)["status"] == 422
    assert "WEBHOOK_TARGET_FORBIDDEN" in forbidden.stderr
    bad_schedule = owner_cli(*create, "every day at noon")
    assert bad_schedule.exit_code == EXIT_USAGE and "INVALID_SCHEDULE" in bad_schedule.stderr
    bad_zone = owner_cli(*create, YEARLY, "--timezone", "Mars/Olympus_Mons")
    assert bad_zone.exit_code == EXIT_USAGE and "INVALID_TIMEZONE" in bad_zone.stderr
    zero = owner_cli(*create, YEARLY, "--keep-last", 0)  # 0 only clears, on update
    assert zero.exit_code == EXIT_USAGE and "--keep-last" in zero.stderr
    no_schedule = owner_cli("backup", "policy", "create", "p", "--project", project_id)
    assert no_schedule.exit_code == EXIT_USAGE and "--schedule" in no_schedule.stderr
    assert owner_cli.json("backup", "policy", "list", "--project", project_id) == []

    for command in ("show", "runs", "dry-run", "delete"):
        missing = owner_cli("backup", "policy", command, MISSING, "-y" if command == "delete"
                            else "--json")  # fmt: skip
        assert missing.exit_code == EXIT_NOT_FOUND, (command, missing.output)
        assert "POLICY_NOT_FOUND" in missing.stderr
    updated = owner_cli("backup", "policy", "update", MISSING, "--name", "x")
    assert updated.exit_code == EXIT_NOT_FOUND

    policy = owner_cli.json(*create, YEARLY)
    nothing = owner_cli("backup", "policy", "update", policy["id"], "--json")
    assert nothing.exit_code == EXIT_USAGE and error_of(nothing)["code"] == "USAGE_ERROR"
    other_project = owner.project("Other")
    wrong = owner_cli("backup", "policy", "show", policy["id"], "--project", other_project)
    assert wrong.exit_code == EXIT_NOT_FOUND and "not a policy of project" in wrong.stderr

    outsider = other_cli(live, tmp_path, stranger, "stranger")
    assert outsider("backup", "policy", "show", policy["id"]).exit_code == EXIT_NOT_FOUND
    listed = outsider("backup", "policy", "list", "--project", project_id)
    assert listed.exit_code == EXIT_NOT_FOUND and "PROJECT_NOT_FOUND" in listed.stderr

    dev_user = register(live, "Dev")
    owner.sdk.members.add(dev_user.email, "developer", project_id=project_id)
    developer = other_cli(live, tmp_path, dev_user, "developer")
    denied = developer(*create, YEARLY)
    assert denied.exit_code == EXIT_AUTH and "INSUFFICIENT_PERMISSIONS" in denied.stderr
    assert developer.json("backup", "usage", "--project", project_id)["count"] == 0
    dev_user.sdk.close()


def test_policy_limit_exits_4(owner_cli: Cli, owner: User) -> None:
    project_id = owner.project("Limit")
    for n in range(19):
        owner.sdk.backups.policies.create(f"p{n}", YEARLY, project_id=project_id)
    owner_cli.ok("backup", "policy", "create", "last", "--project", project_id,
                 "--schedule", YEARLY)  # fmt: skip
    full = owner_cli("backup", "policy", "create", "one too many", "--project", project_id,
                     "--schedule", YEARLY, "--json")  # fmt: skip
    assert full.exit_code == EXIT_CONFLICT
    assert error_of(full)["code"] == "POLICY_LIMIT_REACHED"
    assert error_of(full)["details"] == {"max_policies": 20}


# -- runs and the retention dry run ------------------------------------------------------------


def test_runs_and_dry_run(owner_cli: Cli, owner: User, server_db: ServerDb) -> None:
    project_id = owner.project("Runs")
    policy = owner_cli.json("backup", "policy", "create", "hourly", "--project", project_id,
                            "--schedule", YEARLY, "--keep-last", 2)  # fmt: skip
    policy_id = policy["id"]
    assert owner_cli.json("backup", "policy", "runs", policy_id) == []
    assert "has not run yet" in owner_cli.ok("backup", "policy", "runs", policy_id).stdout

    autos = [completed_backup(owner, project_id, f"auto {n}") for n in range(3)]
    slot = datetime(2026, 1, 1, 3, tzinfo=UTC)
    with server_db.session() as db, db.begin():
        db.execute(
            update(BackupRow)
            .where(BackupRow.id.in_([b.id for b in autos]))
            .values(type="automatic", policy_id=policy_id)
        )
        for hours, status, reason, backup_id in [
            (0, "completed", None, autos[0].id),
            (1, "skipped", "JOB_IN_PROGRESS", None),
            (2, "failed", "STORAGE_FULL", None),
        ]:
            at = slot + timedelta(hours=hours)
            db.add(
                PolicyRun(
                    project_id=project_id,
                    id=new_id(),
                    policy_id=policy_id,
                    slot_time=at,
                    status=status,
                    reason=reason,
                    backup_id=backup_id,
                    details={"deleted_backups": []},
                    created_at=at,
                    finished_at=at,
                )
            )

    runs = owner_cli.json("backup", "policy", "runs", policy_id, "--project", project_id)
    assert [r["status"] for r in runs] == ["failed", "skipped", "completed"]
    assert runs[-1]["backup_id"] == autos[0].id and runs[-1]["slot_time"] == "2026-01-01T03:00:00Z"
    table = owner_cli.ok("backup", "policy", "runs", policy_id, "--limit", 2).stdout
    assert table.startswith("SLOT") and "STORAGE_FULL" in table and "JOB_IN_PROGRESS" in table
    assert "2026-01-01 05:00:00 UTC" in table
    assert "(2 of 3; use --limit/--offset for more)" in table

    preview = owner_cli.json("backup", "policy", "dry-run", policy_id)
    assert preview["retention"]["keep_last"] == 2
    assert [i["backup_id"] for i in preview["keep"]] == [autos[2].id, autos[1].id]
    assert [i["backup_id"] for i in preview["delete"]] == [autos[0].id]
    assert preview["delete_bytes"] == autos[0].size
    narrower = owner_cli.json("backup", "policy", "dry-run", policy_id, "--keep-last", 1,
                              "--max-age-days", 30)  # fmt: skip
    assert narrower["retention"]["max_age_days"] == 30
    assert [i["backup_id"] for i in narrower["delete"]] == [autos[1].id, autos[0].id]
    text = owner_cli.ok("backup", "policy", "dry-run", policy_id, "--keep-last", 1).stdout
    assert "would delete 2 backup(s)" in text and "and keep 1" in text
    assert "DELETE" in text and "keep_last" in text and "auto 0" in text
    # nothing was deleted
    assert len(owner.sdk.backups.list(project_id=project_id)) == 3


# -- storage usage -------------------------------------------------------------------------------


def test_backup_usage(
    owner_cli: Cli, owner: User, live: ServerProcess, tmp_path: Path, server_db: ServerDb
) -> None:
    project_id = owner.project("Usage")
    empty = owner_cli.json("backup", "usage", "--project", project_id)
    assert (empty["count"], empty["total_bytes"], empty["by_type"]) == (0, 0, {})
    backup = completed_backup(owner, project_id, "measured")
    usage = owner_cli.json("backup", "usage", "--project", project_id)
    assert usage["count"] == 1 and usage["total_bytes"] == backup.size
    assert usage["by_type"] == {"manual": {"count": 1, "total_bytes": backup.size}}
    text = owner_cli.ok("backup", "usage", "--project", project_id).stdout
    assert f"Backups of project {project_id}: 1," in text and "quota: unlimited" in text
    assert "manual" in text and "newest verified" in text
    neither = owner_cli("backup", "usage", "--json")
    assert neither.exit_code == EXIT_USAGE and error_of(neither)["code"] == "USAGE_ERROR"

    not_admin = owner_cli("backup", "usage", "--all", "--json")
    assert not_admin.exit_code == EXIT_AUTH
    assert error_of(not_admin)["code"] == "INSUFFICIENT_PERMISSIONS"

    admin_user = register(live, "Admin")
    with server_db.session() as db, db.begin():
        db.execute(
            update(UserRow).where(UserRow.email == admin_user.email).values(is_platform_admin=True)
        )
    admin = other_cli(live, tmp_path, admin_user, "admin")
    everything = admin.json("backup", "usage", "--all", "--limit", 1000)
    assert everything["projects_total"] >= 1 and everything["count"] >= 1
    mine = [p for p in everything["projects"] if p["project_id"] == project_id]
    assert mine == [
        {**usage, "project_id": project_id, "project_name": "Usage"},
    ]
    table = admin.ok("backup", "usage", "--all", "--limit", 1).stdout
    assert table.startswith("Backups on the server:") and "PROJECT" in table
    assert "storage free:" in table
    if everything["projects_total"] > 1:
        assert f"(1 of {everything['projects_total']} projects" in table
    admin_user.sdk.close()


def test_backup_get_shows_policy_and_drill(
    owner_cli: Cli, owner: User, server_db: ServerDb
) -> None:
    project_id = owner.project("Drill")
    backup = completed_backup(owner, project_id, "drilled")
    drill = {"ok": False, "checked_at": "2026-06-30T00:31:40Z", "problems": ["documents differ"]}
    with server_db.session() as db, db.begin():
        db.execute(
            update(BackupRow)
            .where(BackupRow.id == backup.id)
            .values(type="automatic", policy_id="01policyid", drill=drill)
        )
    got = owner_cli.json("backup", "get", backup.id)
    assert got["drill"] == drill and got["policy_id"] == "01policyid"
    text = owner_cli.ok("backup", "get", backup.id).stdout
    assert "policy      01policyid" in text
    assert "drill       FAILED: documents differ (2026-06-30 00:31:40 UTC)" in text
