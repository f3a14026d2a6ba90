"""`cloudbox login|logout|projects|backup|restores` against a live server."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
from cloudbox_sdk import CloudBox, InvalidToken

from cloudbox.cli.client import (
    EXIT_AUTH,
    EXIT_CONFLICT,
    EXIT_FAILED,
    EXIT_INVALID_ARCHIVE,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
)
from tests.cli.conftest import Cli, Prepared, User, completed_backup, register, rekeyed, seed
from tests.plugins.server import ServerProcess

pytestmark = pytest.mark.e2e


# -- login / logout ---------------------------------------------------------------------------


def test_login_with_flags_stores_a_private_token(cli: Cli, owner: User) -> None:
    result = cli.ok("login", "--email", owner.email, "--password", owner.password)
    assert owner.email in result.stdout
    path = cli.config_dir / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.config_dir.stat().st_mode) == 0o700
    stored = json.loads(path.read_text())
    assert stored["endpoint"] == cli.endpoint
    assert stored["email"] == owner.email
    assert stored["token"].startswith("cbt_")
    with CloudBox(endpoint=cli.endpoint, token=stored["token"]) as client:
        assert client.auth.me().email == owner.email


def test_login_json_does_not_print_the_token(cli: Cli, owner: User) -> None:
    body = cli.json("login", "--email", owner.email, "--password", owner.password)
    assert body["user"]["email"] == owner.email
    assert body["endpoint"] == cli.endpoint
    assert "cbt_" not in json.dumps(body)


def test_login_asks_for_what_is_missing(cli: Cli, owner: User) -> None:
    answers = f"{cli.endpoint}\n{owner.email}\n{owner.password}\n"
    result = cli("login", input=answers, env={"CLOUDBOX_ENDPOINT": None})
    assert result.exit_code == 0, result.output
    assert "CloudBox endpoint" in result.output and "Password" in result.output
    assert owner.password not in result.output  # hidden input
    assert json.loads((cli.config_dir / "credentials.json").read_text())["email"] == owner.email


def test_login_with_a_wrong_password_exits_2(cli: Cli, owner: User) -> None:
    result = cli("login", "--email", owner.email, "--password", "wrong-password")
    assert result.exit_code == EXIT_AUTH
    assert "INVALID_CREDENTIALS" in result.stderr
    assert not (cli.config_dir / "credentials.json").exists()


def test_commands_need_a_login(cli: Cli) -> None:
    result = cli("projects", "list")
    assert result.exit_code == EXIT_AUTH
    assert "cloudbox login" in result.stderr
    as_json = cli("backup", "list", "--project", "1", "--json")
    assert as_json.exit_code == EXIT_AUTH
    assert json.loads(as_json.stdout)["error"]["code"] == "NOT_LOGGED_IN"


def test_logout_revokes_and_forgets_the_token(owner_cli: Cli) -> None:
    token = json.loads((owner_cli.config_dir / "credentials.json").read_text())["token"]
    body = owner_cli.json("logout")
    assert body == {"logged_out": True, "token_revoked": True}
    assert not (owner_cli.config_dir / "credentials.json").exists()
    with CloudBox(endpoint=owner_cli.endpoint, token=token) as client, pytest.raises(InvalidToken):
        client.auth.me()
    assert owner_cli("projects", "list").exit_code == EXIT_AUTH


def test_an_api_key_needs_no_login(cli: Cli, owner: User, prepared: Prepared) -> None:
    key = owner.sdk.api_keys.create("cli", ["read", "backups"], project_id=prepared.project_id)
    listed = cli.json("backup", "list", "--project", prepared.project_id, "--api-key", key.key)
    assert prepared.backup.id in [b["id"] for b in listed]
    reader = owner.sdk.api_keys.create("reader", ["read"], project_id=prepared.project_id)
    refused = cli("backup", "list", "--project", prepared.project_id, "--api-key", reader.key)
    assert refused.exit_code == EXIT_AUTH
    assert "INSUFFICIENT_PERMISSIONS" in refused.stderr


# -- projects -----------------------------------------------------------------------------------


def test_projects_list_get_create(owner_cli: Cli, owner: User) -> None:
    created = owner_cli.json("projects", "create", "From the CLI", "--description", "made here")
    assert (created["name"], created["role"]) == ("From the CLI", "owner")
    listed = owner_cli.json("projects", "list")
    assert isinstance(listed, list)
    assert created["id"] in [p["id"] for p in listed]
    table = owner_cli.ok("projects", "list").stdout
    assert "From the CLI" in table and "owner" in table
    got = owner_cli.json("projects", "get", created["id"])
    assert got["description"] == "made here"
    assert "From the CLI" in owner_cli.ok("projects", "get", created["id"]).stdout
    missing = owner_cli("projects", "get", 2_000_000_000)
    assert missing.exit_code == EXIT_NOT_FOUND
    assert "PROJECT_NOT_FOUND" in missing.stderr


# -- backup subcommands ----------------------------------------------------------------------------


def test_backup_create_wait_json(owner_cli: Cli, owner: User) -> None:
    project_id = owner.project()
    seed(owner, project_id)
    result = owner_cli.ok(
        "backup", "create", "--project", project_id, "--name", "nightly",
        "--description", "from the CLI", "--wait", "--json",
    )  # fmt: skip
    backup = json.loads(result.stdout)  # the progress went to stderr
    assert backup["status"] == "completed"
    assert (backup["name"], backup["description"]) == ("nightly", "from the CLI")
    assert backup["sections"]["documents"] == 3
    assert "100.0%" in result.stderr


def test_backup_create_without_wait_returns_at_once(owner_cli: Cli, owner: User) -> None:
    project_id = owner.project()
    backup = owner_cli.json("backup", "create", "--project", project_id, "--type", "automatic")
    assert backup["status"] == "creating"
    assert backup["type"] == "automatic"
    assert backup["name"].startswith("backup-")
    owner.sdk.backups.wait_for_completion(backup["id"], interval=0.05)


def test_backup_create_wait_prints_plain_lines_when_not_a_terminal(
    owner_cli: Cli, owner: User
) -> None:
    project_id = owner.project()
    result = owner_cli.ok("backup", "create", "--project", project_id, "--wait")
    assert "\r" not in result.stdout
    bar_lines = [
        line for line in result.stdout.splitlines() if line.startswith("Backup ") and "[" in line
    ]
    assert bar_lines[-1].split("]")[1].strip().startswith("100.0%")
    assert "/s" in bar_lines[-1]
    assert "status      completed" in result.stdout


def test_backup_list_and_get(owner_cli: Cli, prepared: Prepared) -> None:
    listed = owner_cli.json("backup", "list", "--project", prepared.project_id)
    assert [b["id"] for b in listed][-1] == prepared.backup.id
    table = owner_cli.ok("backup", "list", "--project", prepared.project_id).stdout
    assert "prepared" in table and "completed" in table

    got = owner_cli.json("backup", "get", prepared.backup.id)
    assert got["checksum"] == prepared.backup.checksum
    assert got["project_id"] == prepared.project_id
    text = owner_cli.ok("backup", "get", prepared.backup.id).stdout
    assert prepared.backup.checksum is not None and prepared.backup.checksum in text
    assert owner_cli.json("backup", "get", prepared.backup.id, "--project", prepared.project_id)


def test_backup_verify(owner_cli: Cli, prepared: Prepared) -> None:
    report = owner_cli.json("backup", "verify", prepared.backup.id)
    assert report["ok"] is True and report["problems"] == []
    assert report["checksum"] == prepared.backup.checksum
    assert owner_cli.ok("backup", "verify", prepared.backup.id).stdout.startswith("OK")


def test_backup_download(owner_cli: Cli, prepared: Prepared, tmp_path: Path) -> None:
    body = owner_cli.json("backup", "download", prepared.backup.id, "-o", tmp_path, "--wait")
    path = Path(body["path"])
    assert path.parent == tmp_path
    assert path.name == f"backup-{prepared.project_id}-{prepared.backup.id}.tar.gz"
    data = path.read_bytes()
    assert body["size"] == len(data) == prepared.backup.size
    assert (
        body["checksum"] == prepared.backup.checksum == f"sha256:{hashlib.sha256(data).hexdigest()}"
    )

    named = tmp_path / "copy.tar.gz"
    result = owner_cli.ok("backup", "download", prepared.backup.id, "--output", named, "--wait")
    assert named.read_bytes() == data
    assert "100.0%" in result.stdout and "Saved backup" in result.stdout


def test_backup_import(owner_cli: Cli, owner: User, prepared: Prepared) -> None:
    target = owner.project("Import target")
    imported = owner_cli.json(
        "backup", "import", prepared.archive, "--project", target,
        "--name", "imported", "--description", "via the CLI", "--wait",
    )  # fmt: skip
    assert imported["status"] == "completed"
    assert imported["origin"] == "import"
    assert imported["project_id"] == target
    assert (imported["name"], imported["description"]) == ("imported", "via the CLI")
    assert imported["checksum"] == prepared.backup.checksum

    plain = owner_cli.ok(
        "backup", "import", prepared.archive, "--project", target,
        "--sha256", str(prepared.backup.checksum), "--wait",
    )  # fmt: skip
    assert "100.0%" in plain.stdout and "origin: import" in plain.stdout


def test_backup_restore_wait(owner_cli: Cli, owner: User) -> None:
    project_id = owner.project()
    seed(owner, project_id)
    backup = completed_backup(owner, project_id)
    owner.sdk.documents.delete("notes", "n0", project_id=project_id)

    restore = owner_cli.json("backup", "restore", backup.id, "--yes", "--wait")
    assert restore["status"] == "completed"
    assert restore["target_project_id"] == project_id
    assert restore["pre_restore_backup_id"] is not None
    assert owner.sdk.documents.get("notes", "n0", project_id=project_id).data == {"n": 0}

    undone = owner_cli.json("restores", "undo", restore["id"], "--yes", "--wait")
    assert undone["undo_of"] == restore["id"] and undone["status"] == "completed"
    listed = owner_cli.json("restores", "list", "--project", project_id)
    assert {restore["id"], undone["id"]} <= {r["id"] for r in listed}


def test_backup_restore_into_another_project_with_options(
    owner_cli: Cli, owner: User, prepared: Prepared
) -> None:
    target = owner.project("Restore target")
    result = owner_cli.ok(
        "backup", "restore", prepared.backup.id, "--target-project", target,
        "--section", "collections", "--section", "documents",
        "--no-pre-restore-backup", "--yes", "--wait",
    )  # fmt: skip
    assert "100.0%" in result.stdout
    assert f"into project {target}: completed" in result.stdout
    assert owner.sdk.documents.get("notes", "n1", project_id=target).data == {"n": 1}
    restores = owner.sdk.restores.list(project_id=target)
    assert restores[0].options["sections"] == ["collections", "documents"]


def test_backup_restore_dry_run_and_without_wait(owner_cli: Cli, prepared: Prepared) -> None:
    dry = owner_cli.json("backup", "restore", prepared.backup.id, "--dry-run", "--wait")
    assert dry["dry_run"] is True and dry["status"] == "completed"
    assert "documents" in dry["plan"]["sections"]

    started = owner_cli.json("backup", "restore", prepared.backup.id, "--dry-run")
    assert started["status"] in ("pending", "running")
    final = owner_cli.json("restores", "get", started["id"], "--wait")
    assert final["status"] == "completed"
    assert "completed" in owner_cli.ok("restores", "get", started["id"]).stdout


def test_backup_restore_asks_first(owner_cli: Cli, prepared: Prepared) -> None:
    declined = owner_cli("backup", "restore", prepared.backup.id, input="n\n")
    assert declined.exit_code == EXIT_USAGE
    assert "Aborted" in declined.output


def test_backup_delete(owner_cli: Cli, owner: User) -> None:
    project_id = owner.project()
    backup = completed_backup(owner, project_id)
    assert owner_cli("backup", "delete", backup.id, input="n\n").exit_code == EXIT_USAGE
    assert owner_cli.json("backup", "delete", backup.id, "--yes") == {
        "id": backup.id,
        "deleted": True,
    }
    gone = owner_cli("backup", "get", backup.id)
    assert gone.exit_code == EXIT_NOT_FOUND


def test_backup_cancel(owner_cli: Cli, owner: User) -> None:
    project_id = owner.project()
    for _ in range(5):
        created = owner_cli.json("backup", "create", "--project", project_id)
        result = owner_cli("backup", "cancel", created["id"], "--json")
        owner.sdk.backups.wait_for_completion(created["id"], interval=0.05)
        if result.exit_code == 0:
            break
        assert result.exit_code == EXIT_CONFLICT  # it finished first; try again
    else:
        pytest.fail("every backup finished before it could be cancelled")
    assert json.loads(result.stdout)["id"] == created["id"]
    final = owner_cli.json("backup", "get", created["id"])
    assert final["status"] == "failed"
    assert final["error"]["code"] == "BACKUP_CANCELLED"
    again = owner_cli("backup", "cancel", created["id"])
    assert again.exit_code == EXIT_CONFLICT
    assert "BACKUP_NOT_RUNNING" in again.stderr


# -- exit codes ------------------------------------------------------------------------------------


def test_not_found_exits_3(owner_cli: Cli, prepared: Prepared) -> None:
    for command in ("get", "download", "verify", "delete", "cancel"):
        result = owner_cli(
            "backup", command, 2_000_000_000, "--yes" if command == "delete" else "--json"
        )
        assert result.exit_code == EXIT_NOT_FOUND, (command, result.output)
    as_json = owner_cli("backup", "get", 2_000_000_000, "--json")
    error = json.loads(as_json.stdout)["error"]
    assert (error["code"], error["status"], error["exit_code"]) == ("BACKUP_NOT_FOUND", 404, 3)
    assert "BACKUP_NOT_FOUND" in as_json.stderr
    other = owner_cli("backup", "get", prepared.backup.id, "--project", prepared.project_id + 1000)
    assert other.exit_code == EXIT_NOT_FOUND


def test_a_stranger_gets_not_found(cli: Cli, stranger: User, prepared: Prepared) -> None:
    cli.login(stranger)
    result = cli("backup", "get", prepared.backup.id)
    assert result.exit_code == EXIT_NOT_FOUND
    assert "BACKUP_NOT_FOUND" in result.stderr
    assert cli("backup", "list", "--project", prepared.project_id).exit_code == EXIT_NOT_FOUND


def test_a_developer_is_forbidden_to_download_and_restore(
    cli: Cli, owner: User, live: ServerProcess, prepared: Prepared, tmp_path: Path
) -> None:
    developer = register(live, "Developer")
    try:
        owner.sdk.members.add(developer.email, "developer", project_id=prepared.project_id)
        cli.login(developer)
        assert cli.json("backup", "get", prepared.backup.id)["id"] == prepared.backup.id
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        download = cli("backup", "download", prepared.backup.id, "-o", downloads)
        assert download.exit_code == EXIT_AUTH
        assert "INSUFFICIENT_PERMISSIONS" in download.stderr
        restore = cli("backup", "restore", prepared.backup.id, "--yes", "--json")
        assert restore.exit_code == EXIT_AUTH
        assert json.loads(restore.stdout)["error"]["code"] == "INSUFFICIENT_PERMISSIONS"
        assert list(downloads.iterdir()) == []
    finally:
        developer.sdk.close()


def test_a_second_backup_while_one_runs_exits_4(owner_cli: Cli, owner: User) -> None:
    project_id = owner.project()
    for _ in range(5):
        first = owner.sdk.backups.create("first", project_id=project_id)
        second = owner_cli("backup", "create", "--project", project_id, "--json")
        owner.sdk.backups.wait_for_completion(first.id, interval=0.05)
        if second.exit_code == EXIT_CONFLICT:
            break
        owner.sdk.backups.wait_for_completion(json.loads(second.stdout)["id"], interval=0.05)
    else:
        pytest.fail("the first backup always finished too soon")
    assert json.loads(second.stdout)["error"]["code"] == "BACKUP_IN_PROGRESS"


def test_importing_a_bad_archive_exits_5(owner_cli: Cli, owner: User, tmp_path: Path) -> None:
    project_id = owner.project()
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not a backup" * 100)
    result = owner_cli("backup", "import", junk, "--project", project_id)
    assert result.exit_code == EXIT_INVALID_ARCHIVE
    assert "INVALID_ARCHIVE" in result.stderr
    assert owner.sdk.backups.list(project_id=project_id) == []


def test_usage_errors_exit_1(owner_cli: Cli) -> None:
    missing = owner_cli("backup", "list")
    assert missing.exit_code == EXIT_USAGE
    assert "--project" in missing.stderr
    assert owner_cli("backup", "get", "not-a-number").exit_code == EXIT_USAGE
    assert owner_cli("backup", "frobnicate").exit_code == EXIT_USAGE
    assert owner_cli("login", "--bogus").exit_code == EXIT_USAGE
    assert owner_cli("backup", "--help").exit_code == 0


def test_an_unreachable_server_exits_1(cli: Cli) -> None:
    result = cli(
        "projects", "list", "--endpoint", "http://127.0.0.1:9", env={"CLOUDBOX_TOKEN": "cbt_x"}
    )
    assert result.exit_code == EXIT_USAGE
    assert "CONNECTION_ERROR" in result.stderr


def test_a_failed_restore_exits_with_its_category(
    owner_cli: Cli, owner: User, prepared: Prepared, tmp_path: Path
) -> None:
    """A job that ends failed: exit 5 for an archive problem (here MASTER_KEY_MISMATCH),
    and with --json exactly one JSON document, the error, holding the restore."""
    project_id = owner.project("Foreign")
    foreign = tmp_path / "foreign.tar.gz"
    foreign.write_bytes(rekeyed(prepared.archive.read_bytes()))
    imported = owner_cli.json("backup", "import", foreign, "--project", project_id)
    assert imported["status"] == "completed"

    result = owner_cli("backup", "restore", imported["id"], "--yes", "--wait", "--json")
    assert result.exit_code == EXIT_INVALID_ARCHIVE, result.output
    error = json.loads(result.stdout)["error"]  # one document
    assert error["code"] == "MASTER_KEY_MISMATCH"
    assert error["details"]["restore"]["status"] == "failed"
    assert "MASTER_KEY_MISMATCH" in result.stderr

    started = owner_cli.json("backup", "restore", imported["id"], "--yes")
    waited = owner_cli("restores", "get", started["id"], "--wait")
    assert waited.exit_code == EXIT_INVALID_ARCHIVE
    assert "MASTER_KEY_MISMATCH" in waited.stderr and "failed" in waited.stdout
    assert owner_cli.json("restores", "get", started["id"])["status"] == "failed"


def test_exit_6_is_a_failed_job() -> None:
    from cloudbox_sdk import InternalError, RestoreFailed, StorageFull, WaitTimeout

    from cloudbox.cli.client import _job_exit_code, exit_code_for

    assert _job_exit_code("BACKUP_CANCELLED") == EXIT_FAILED
    assert _job_exit_code("RESTORE_FAILED") == EXIT_FAILED
    assert _job_exit_code("INVALID_ARCHIVE") == EXIT_INVALID_ARCHIVE
    assert exit_code_for(RestoreFailed(500, "RESTORE_FAILED", "m")) == EXIT_FAILED
    assert exit_code_for(StorageFull(507, "STORAGE_FULL", "m")) == EXIT_FAILED
    assert exit_code_for(InternalError(500, "INTERNAL_ERROR", "m")) == EXIT_FAILED
    assert exit_code_for(WaitTimeout(0, "WAIT_TIMEOUT", "m")) == EXIT_FAILED


def test_an_endpoint_without_a_scheme(cli: Cli, owner: User) -> None:
    bare = cli.endpoint.removeprefix("http://")
    result = cli(
        "login", "--endpoint", bare, "--email", owner.email, "--password", owner.password,
        env={"CLOUDBOX_ENDPOINT": None},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stored = json.loads((cli.config_dir / "credentials.json").read_text())
    assert stored["endpoint"] == cli.endpoint
    assert cli.json("projects", "list", "--endpoint", bare) is not None


def test_an_unwritable_output_exits_1(owner_cli: Cli, prepared: Prepared, tmp_path: Path) -> None:
    target = tmp_path / "missing-dir" / "out.tar.gz"
    result = owner_cli("backup", "download", prepared.backup.id, "-o", target)
    assert result.exit_code == EXIT_USAGE
    assert "LOCAL_IO_ERROR" in result.stderr
