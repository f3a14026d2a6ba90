"""The restore drill: prove a backup restores by restoring it.

The new backup is restored into a throwaway project (created by the system, with no
members, so nobody sees it), then the restored rows are compared with the archive: for
every section a cross-project restore copies verbatim, the SHA-256 of the rows
re-encoded exactly as the archiver writes them must equal the member's digest in the
archive's manifest; for the sections a cross-project restore changes on purpose (API
keys and SSH keys come across disabled, function domains the source still holds are
skipped) the row counts must match the restore's plan; every blob the manifest lists
must be in the blob store with its size. Then the throwaway project is deleted.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from cloudbox.archive import VerifiedArchive, verify_archive
from cloudbox.audit.service import SYSTEM
from cloudbox.backups import service as backups
from cloudbox.backups.models import Backup
from cloudbox.backups.sections import SPECS_BY_NAME, encode_rows
from cloudbox.backups.streams import reader_over
from cloudbox.jobs import locks
from cloudbox.policies import repository as repo
from cloudbox.policies.models import DrillProject
from cloudbox.projects import service as projects
from cloudbox.projects.models import Project
from cloudbox.restores import service as restores

if TYPE_CHECKING:
    from cloudbox.runtime import Runtime

log = logging.getLogger(__name__)

#: sections a restore into another project copies row for row
VERBATIM = (
    "auth_settings",
    "users",
    "collections",
    "documents",
    "storage_buckets",
    "files",
    "functions",
    "github_repositories",
    "web_servers",
    "deployments",
    "cors_configs",
)
#: sections a restore into another project changes on purpose: counts only
COUNTED = ("api_keys", "ssh_keys", "function_domains")
#: a drill project older than this is a leftover of a crashed drill
ABANDONED_AFTER = timedelta(hours=6)


@dataclass
class DrillResult:
    ok: bool
    checked_at: datetime
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.isoformat(),
            "problems": self.problems[:20],
        }


def _manifest_digests(verified: VerifiedArchive) -> dict[str, str]:
    return {
        str(m["name"]): str(m["sha256"])
        for m in verified.manifest.get("members", [])
        if isinstance(m, dict) and "name" in m and "sha256" in m
    }


def _section_digest(runtime: Runtime, section: str, project_id: int, now: datetime) -> str:
    spec = SPECS_BY_NAME[section]
    digest = hashlib.sha256()
    with runtime.db.engine.connect() as conn:
        rows = conn.execute(spec.rows_query(project_id, now))
        for line in encode_rows(spec, rows):
            digest.update(line)
            digest.update(b"\n")
    return digest.hexdigest()


def _count(runtime: Runtime, section: str, project_id: int, now: datetime) -> int:
    spec = SPECS_BY_NAME[section]
    with runtime.db.engine.connect() as conn:
        return int(conn.scalar(spec.count_query(project_id, now)) or 0)


def compare(
    runtime: Runtime,
    verified: VerifiedArchive,
    target: int,
    plan: dict[str, Any],
    now: datetime,
) -> list[str]:
    problems: list[str] = []
    digests = _manifest_digests(verified)
    for section in VERBATIM:
        expected = digests.get(f"data/{section}.ndjson")
        if expected is None:
            problems.append(f"{section}: missing from the archive's manifest")
            continue
        if _section_digest(runtime, section, target, now) != expected:
            problems.append(f"{section}: restored rows differ from the archive")
    sections = plan.get("sections", {})
    for section in COUNTED:
        archived = verified.sections.get(section, 0)
        skipped = int(sections.get(section, {}).get("skip", 0))
        actual = _count(runtime, section, target, now)
        if actual != archived - skipped:
            problems.append(f"{section}: {actual} rows restored, expected {archived - skipped}")
    for sha256, size in verified.blobs.items():
        try:
            stored = runtime.blobs.size(sha256)
        except Exception:  # noqa: BLE001 - missing or unreadable: either way a problem
            stored = -1
        if stored != size:
            problems.append(f"blob {sha256[:12]}: missing or of the wrong size")
            if len(problems) > 50:
                break
    return problems


def _create_target(runtime: Runtime, backup_id: int, now: datetime) -> int:
    with runtime.db.transaction() as db:
        project = Project(
            name=f"restore drill of backup #{backup_id}",
            description="Throwaway project of an automatic restore drill; deleted after it",
            settings={},
            created_by=None,
        )
        db.add(project)
        db.flush()
        db.add(DrillProject(project_id=project.id, backup_id=backup_id, created_at=now))
        return project.id


def delete_project(runtime: Runtime, project_id: int) -> None:
    with runtime.db.transaction() as db:
        project = db.get(Project, project_id)
        if project is None:
            return
        keys = projects.delete_project(db, project)
    for key in keys:
        backups.remove_archive(runtime.archives, key)


def run(runtime: Runtime, backup_id: int, now: datetime) -> DrillResult:
    """Restore, compare, clean up; never raises (a failure is a failed drill)."""
    target: int | None = None
    try:
        with runtime.db.session() as db:
            backup = db.get(Backup, backup_id)
            if backup is None or backup.status != backups.STATUS_COMPLETED:
                return DrillResult(False, now, ["the backup is not completed"])
            key, origin = backup.file_path, backup.origin
        target = _create_target(runtime, backup_id, now)
        with runtime.db.transaction() as db:
            backup = db.get(Backup, backup_id)
            if backup is None:
                return DrillResult(False, now, ["the backup was deleted"])
            restore = restores.start(
                db,
                backup,
                target,
                options={
                    "dry_run": False,
                    "sections": None,
                    "pre_restore_backup": False,
                    "keep_credentials_active": False,
                },
                actor=SYSTEM,
            )
            restore_id = restore.id
        restores.run_restore(runtime, restore_id)
        with runtime.db.session() as db:
            done = restores.get(db, restore_id)
            status, error, plan = done.status, done.error_code, dict(done.plan or {})
        if status != restores.COMPLETED:
            return DrillResult(False, now, [f"the restore failed: {error or 'unknown error'}"])
        with reader_over(iter(runtime.archives.open(key))) as source:
            verified = verify_archive(source, backups.archive_limits_for(origin))
        problems = compare(runtime, verified, target, plan, now)
        return DrillResult(not problems, now, problems)
    except Exception:
        log.exception("restore drill of backup %s failed", backup_id)
        return DrillResult(False, now, ["the drill could not run; the server log has details"])
    finally:
        if target is not None:
            try:
                delete_project(runtime, target)
            except Exception:
                log.exception("could not delete drill project %s", target)


def clean_abandoned(runtime: Runtime, now: datetime) -> list[int]:
    """Delete drill projects a crashed drill left behind (none holds a job lock)."""
    with runtime.db.session() as db:
        leftovers = repo.abandoned_drill_projects(db, now - ABANDONED_AFTER)
        leftovers = [p for p in leftovers if locks.holder(db, p) is None]
    for project_id in leftovers:
        try:
            delete_project(runtime, project_id)
        except Exception:
            log.exception("could not delete abandoned drill project %s", project_id)
    return leftovers


def drill_projects_count(runtime: Runtime) -> int:
    with runtime.db.session() as db:
        return int(db.scalar(select(func.count()).select_from(DrillProject)) or 0)
