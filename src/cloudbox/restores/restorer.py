"""Applies a verified archive to a target project, all or nothing (DESIGN §2.2, §4).

Two streaming passes over the stored archive (memory bounded by batch sizes):

1. **verify and stage** — one read checks every structural rule, every member digest and
   size, the master-key fingerprint (from metadata.json, before any blob is staged) and,
   last, the whole archive's SHA-256 against the checksum recorded when the backup was
   written or imported; meanwhile it counts what each section would create, replace and
   remove in the target (read-only queries, only for sections the target already holds
   or with server-wide unique values) and streams the blobs the store lacks into it
   (idempotent, content-addressed: blobs left by a failed restore are collected later);
2. **apply** — one database transaction deletes the target's rows of the chosen sections,
   inserts the archive's rows with `project_id` rewritten, takes blob references, checks
   the counts, records the audit entry and finishes the restore row; then commits. It
   reads only the sections, which precede the blobs, and checks their digests against
   pass 1's.

Without a pre-restore backup to take between them, the passes run at once (pass 1 in a
thread, `Verification`): the apply's transaction commits only after pass 1 succeeded.

The recorded SHA-256 is what lets rows skip the strict JSON parser: the writer produced
them from the database, or the import parsed every one strictly, and the matching digest
proves these are those bytes. Rows are parsed once, in pass 2, by the C parser.
Anything that fails before the commit leaves the target exactly as it was. A dry run
stops after pass 1 without staging blobs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from cloudbox.archive import (
    ArchiveLimits,
    ArchiveScan,
    InvalidArchive,
    Member,
    VerifiedArchive,
)
from cloudbox.backups.sections import SECTION_SPECS, SPECS_BY_NAME, SectionSpec
from cloudbox.backups.streams import reader_over
from cloudbox.blobstore import BlobStore, ObjectStore
from cloudbox.db.base import Base
from cloudbox.files.blobrefs import acquire, release_files
from cloudbox.jobs.progress import Progress
from cloudbox.restores.bulk import SectionLoader, parse_line
from cloudbox.restores.errors import InvalidArchiveError, MasterKeyMismatch, RestoreFailed

BATCH = 2000
T = TypeVar("T")
#: sections whose rows may hold values another project already has (server-wide unique)
CONFLICT_SECTIONS = frozenset({"api_keys", "function_domains"})

#: sections a section's rows point at (foreign keys)
DEPENDENCIES: dict[str, frozenset[str]] = {
    "documents": frozenset({"collections"}),
    "files": frozenset({"storage_buckets"}),
    "function_domains": frozenset({"functions"}),
    "github_repositories": frozenset({"ssh_keys"}),
    "web_servers": frozenset({"ssh_keys"}),
    "deployments": frozenset({"github_repositories", "web_servers"}),
}
ALL_SECTIONS = frozenset(spec.name for spec in SECTION_SPECS)
#: rows that belong to a project but not to its backup: cleared when their parents go
EPHEMERAL_TABLES = {"users": ("app_sessions", "app_login_failures")}


def effective_sections(requested: Iterable[str] | None) -> frozenset[str]:
    """The requested sections plus what they depend on and what depends on them.

    Dependencies come along so references resolve (files bring their buckets); dependents
    come along so replacing a parent never orphans or cascades away rows the restore did
    not choose (restoring buckets brings their files).
    """
    if requested is None:
        return ALL_SECTIONS
    chosen = set(requested)
    changed = True
    while changed:
        changed = False
        for section, needs in DEPENDENCIES.items():
            if section in chosen and not needs <= chosen:
                chosen |= needs
                changed = True
            if needs & chosen and section not in chosen:
                chosen.add(section)
                changed = True
    return frozenset(chosen)


@dataclass
class SectionPlan:
    archive_rows: int = 0
    existing_rows: int = 0
    overlap: int = 0
    skipped: int = 0

    def as_dict(self, imported_only: bool = False) -> dict[str, int]:
        incoming = self.archive_rows - self.skipped
        if imported_only:  # audit logs: append-only, never removed or replaced
            return {
                "create": incoming - self.overlap,
                "replace": 0,
                "remove": 0,
                "keep": self.existing_rows,
                "skip": self.skipped + self.overlap,
            }
        return {
            "create": incoming - self.overlap,
            "replace": self.overlap,
            "remove": self.existing_rows - self.overlap,
            "skip": self.skipped,
        }


@dataclass
class RestorePlan:
    sections: dict[str, SectionPlan] = field(default_factory=dict)
    blob_count: int = 0
    blob_bytes: int = 0
    new_blob_bytes: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)
    #: primary keys (without project_id) of archive rows not to insert, per section
    skip: dict[str, set[tuple[Any, ...]]] = field(default_factory=dict)
    #: API keys whose secret another project holds: restored disabled with an unusable hash
    rehash: set[tuple[Any, ...]] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sections": {
                name: plan.as_dict(imported_only=name == "audit_logs")
                for name, plan in self.sections.items()
            },
            "blobs": {
                "count": self.blob_count,
                "bytes": self.blob_bytes,
                "new_bytes": self.new_blob_bytes,
            },
        }


@dataclass
class RestoreContext:
    target_project_id: int
    source_project_id: int
    sections: frozenset[str]
    keep_credentials_active: bool
    key_fingerprint: str
    progress: Progress
    check_cancelled: Callable[[], None]
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)

    @property
    def cross_project(self) -> bool:
        return self.target_project_id != self.source_project_id


class _Counting(io.RawIOBase):
    """Counts the compressed bytes a pass reads (progress) and checks for cancellation."""

    def __init__(
        self, source: io.BufferedReader, progress: Progress, check: Callable[[], None]
    ) -> None:
        super().__init__()
        self._source = source
        self._progress = progress
        self._check = check

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._source.readinto(buffer)
        self._progress.add(nbytes=n)
        self._check()
        return int(n)

    def close(self) -> None:
        self._source.close()
        super().close()


def open_archive(archives: ObjectStore, key: str, ctx: RestoreContext) -> io.BufferedReader:
    raw = _Counting(reader_over(iter(archives.open(key))), ctx.progress, ctx.check_cancelled)
    return io.BufferedReader(raw, 1 << 20)


# -- pass 1: verify, plan and stage ------------------------------------------------------


def check_fingerprint(metadata: dict[str, Any] | None, ctx: RestoreContext) -> None:
    """Secrets in the archive are only usable under the master key they were sealed with."""
    fingerprint = (metadata or {}).get("key_fingerprint")
    if fingerprint != ctx.key_fingerprint:
        raise MasterKeyMismatch(
            details={"archive_key": fingerprint, "server_key": ctx.key_fingerprint}
        )


def verify_and_stage(
    conn: Session,
    archives: ObjectStore,
    key: str,
    checksum: str,
    blobs: BlobStore,
    ctx: RestoreContext,
    *,
    stage: bool,
    plan: RestorePlan | None = None,
    planned: Callable[[str], None] = lambda section: None,
    show_phase: bool = True,
) -> tuple[VerifiedArchive, RestorePlan]:
    """Pass 1: prove the archive, plan the restore and (unless a dry run) stage blobs.

    `planned(section)` is called once the plan for that section is final (what an apply
    running beside this pass waits for); `show_phase` is off when the apply owns the
    progress phase."""
    if show_phase:
        ctx.progress.update(phase="verify")
    plan = RestorePlan() if plan is None else plan
    target = ctx.target_project_id
    existing = {name: _count_existing(conn, SPECS_BY_NAME[name], target) for name in ctx.sections}
    with open_archive(archives, key, ctx) as source:
        scan = ArchiveScan(
            source, ctx.limits, check_rows=False, expected_sha256=checksum.removeprefix("sha256:")
        )
        for member in scan:
            if member.kind == "metadata":
                check_fingerprint(scan.metadata, ctx)
            elif member.kind == "section" and member.section in ctx.sections:
                spec = SPECS_BY_NAME[member.section]
                plan.sections[spec.name] = _plan_section(
                    conn, member, spec, existing[spec.name], plan, ctx
                )
                planned(spec.name)
            elif member.kind == "blob" and "files" in ctx.sections and member.sha256:
                _stage_blob(
                    member, member.sha256, blobs, plan, ctx, stage=stage, show_phase=show_phase
                )
        verified = scan.result()
    for name in ctx.sections:
        section_plan = plan.sections.setdefault(name, SectionPlan(existing_rows=existing[name]))
        section_plan.archive_rows = verified.sections.get(name, 0)
        if name == "project":  # the target's own row: its settings are replaced
            section_plan.overlap = section_plan.archive_rows
    return verified, plan


def _stage_blob(
    member: Member,
    sha256: str,
    blobs: BlobStore,
    plan: RestorePlan,
    ctx: RestoreContext,
    *,
    stage: bool,
    show_phase: bool,
) -> None:
    if plan.blob_count == 0 and show_phase:
        ctx.progress.update(phase="stage" if stage else "plan")
    plan.blob_count += 1
    plan.blob_bytes += member.size
    if blobs.exists(sha256):
        # Content-addressed: the bytes are already there. If the collector removes them
        # before the apply takes its reference, `acquire` notices and the restore fails
        # retryable with the target unchanged.
        return
    plan.new_blob_bytes += member.size
    if stage:
        blobs.put_stream(member.chunks(), expected_sha256=sha256)


def _plan_section(
    conn: Session,
    member: Member,
    spec: SectionSpec,
    existing_rows: int,
    plan: RestorePlan,
    ctx: RestoreContext,
) -> SectionPlan:
    """Overlap and conflicts need the rows' keys: read only where they can exist."""
    section_plan = SectionPlan(existing_rows=existing_rows)
    if spec.name == "project" or (existing_rows == 0 and spec.name not in CONFLICT_SECTIONS):
        return section_plan
    skip: set[tuple[Any, ...]] = set()
    for batch in _batches(parse_rows(member)):
        ctx.check_cancelled()
        for row, reason in _conflicts(conn, spec, ctx, batch):
            if reason == "API_KEY_IN_USE" and not ctx.keep_credentials_active:
                plan.rehash.add(_row_key(spec, row))
                reason = "API_KEY_DISABLED"
            else:
                skip.add(_row_key(spec, row))
            plan.warnings.append(_warning(spec, row, reason))
        if existing_rows:
            keys = [k for k in (_row_key(spec, r) for r in batch) if k not in skip]
            section_plan.overlap += _count_overlap(conn, spec, ctx.target_project_id, keys)
    section_plan.skipped = len(skip)
    if skip:
        plan.skip[spec.name] = skip
    return section_plan


def parse_rows(member: Member) -> Iterator[dict[str, Any]]:
    """A section's rows by the C parser: the archive's recorded digest proved them."""
    for line in member.lines():
        yield parse_line(line, member.name)


def _key_columns(spec: SectionSpec) -> list[str]:
    return [c.name for c in spec.table.primary_key.columns if c.name != spec.project_column]


def _count_existing(conn: Session, spec: SectionSpec, target: int) -> int:
    table = spec.table
    query = select(func.count()).select_from(table).where(table.c[spec.project_column] == target)
    return int(conn.scalar(query) or 0)


def _count_overlap(
    conn: Session, spec: SectionSpec, target: int, keys: list[tuple[Any, ...]]
) -> int:
    if not keys:
        return 0
    table = spec.table
    *prefix, last = [table.c[name] for name in _key_columns(spec)]
    # One query per distinct key prefix (documents: per collection), each an index range
    # scan with `last IN (...)`: PostgreSQL runs a row-value IN list as a filter over every
    # row of the project, which made planning quadratic in the section's size.
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for key in keys:
        groups.setdefault(tuple(key[:-1]), []).append(key[-1])
    total = 0
    for head, tails in groups.items():
        query = (
            select(func.count())
            .select_from(table)
            .where(
                table.c[spec.project_column] == target,
                *[column == value for column, value in zip(prefix, head, strict=True)],
                last.in_(tails),
            )
        )
        total += int(conn.scalar(query) or 0)
    return total


def _row_key(spec: SectionSpec, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row.get(name) for name in _key_columns(spec))


def _conflicts(
    conn: Session, spec: SectionSpec, ctx: RestoreContext, rows: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], str]]:
    """Archive rows whose server-wide unique values another project already holds."""
    out: list[tuple[dict[str, Any], str]] = []
    if spec.name == "function_domains":
        table = spec.table
        names = [r["domain"] for r in rows if isinstance(r.get("domain"), str)]
        taken = set(
            conn.scalars(
                select(table.c.domain).where(
                    table.c.domain.in_(names), table.c.project_id != ctx.target_project_id
                )
            )
        )
        out += [(r, "DOMAIN_TAKEN") for r in rows if r.get("domain") in taken]
    if spec.name == "api_keys":
        table = spec.table
        hashes = [r["key_hash"] for r in rows if isinstance(r.get("key_hash"), str)]
        taken = set(
            conn.scalars(
                select(table.c.key_hash).where(
                    table.c.key_hash.in_(hashes), table.c.project_id != ctx.target_project_id
                )
            )
        )
        out += [(r, "API_KEY_IN_USE") for r in rows if r.get("key_hash") in taken]
    return out


def _warning(spec: SectionSpec, row: dict[str, Any], reason: str) -> dict[str, Any]:
    if reason == "DOMAIN_TAKEN":
        return {
            "code": "DOMAIN_TAKEN",
            "section": spec.name,
            "id": row.get("id"),
            "message": f"Function domain {row.get('domain')} is used by another project; "
            "it was skipped",
        }
    if reason == "API_KEY_DISABLED":
        message = (
            "The same API key belongs to another project on this server; it was restored "
            "disabled and cannot be re-enabled here (create a new key)"
        )
    else:
        message = "The same API key is active in another project on this server; it was skipped"
    return {"code": reason, "section": spec.name, "id": row.get("id"), "message": message}


def _batches(items: Iterator[T], size: int = BATCH) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _VerificationFailed(Exception):
    """Stops an apply whose verification (pass 1, beside it) has failed."""


class _Stopped(Exception):
    """Stops a verification whose apply failed for a reason of its own."""


#: pass 1 as `Verification` runs it: (context, plan to fill, planned callback, show phase)
Pass1 = Callable[
    [RestoreContext, RestorePlan, Callable[[str], None], bool],
    tuple[VerifiedArchive, RestorePlan],
]


class Verification:
    """Pass 1 of a restore, run before the apply or in a thread beside it.

    Before: the archive is proven, then the apply reads it. Beside (when no pre-restore
    backup has to be taken first, and a bad archive should cost nothing): both read the
    archive at once, and the apply inserts rows that are not proven yet, inside its
    transaction. It waits for each section's plan (what the target holds, conflicts)
    before inserting that section, for the whole proof before it takes blob references
    (the blobs may still be staging), and `proven()` before the commit: any failure of
    the proof rolls the apply back, as if the passes had run one after the other.
    """

    def __init__(self, run: Pass1, ctx: RestoreContext) -> None:
        self.plan = RestorePlan()
        self._run = run
        self._ctx = ctx
        self._planned: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._verified: VerifiedArchive | None = None
        self._error: BaseException | None = None

    def run(self) -> VerifiedArchive:
        """Pass 1 here and now; its errors are raised as they happen."""
        try:
            self._verified = self._pass(show_phase=True)
        finally:
            self._done.set()
        return self._verified

    def start(self) -> None:
        """Pass 1 in a thread; the caller must end with `proven()` or `close()`."""

        def run() -> None:
            try:
                self._verified = self._pass(show_phase=False)
            except BaseException as exc:  # noqa: BLE001 - raised by proven() or settle()
                self._error = exc
            finally:
                self._done.set()

        self._thread = threading.Thread(target=run, name="restore-verify", daemon=True)
        self._thread.start()

    def _pass(self, show_phase: bool) -> VerifiedArchive:
        def check() -> None:
            if self._stop.is_set():
                raise _Stopped()
            self._ctx.check_cancelled()

        ctx = dataclasses.replace(self._ctx, check_cancelled=check)
        verified, _ = self._run(ctx, self.plan, self._section_planned, show_phase)
        return verified

    def _event(self, section: str) -> threading.Event:
        with self._lock:
            return self._planned.setdefault(section, threading.Event())

    def _section_planned(self, section: str) -> None:
        self._event(section).set()

    def check(self) -> None:
        """Raise (stopping the apply) if the proof has already failed."""
        if self._error is not None:
            raise _VerificationFailed()

    def wait_planned(self, section: str) -> None:
        """Until the plan of `section` is final (or the proof ended)."""
        event = self._event(section)
        while not event.wait(0.05) and not self._done.is_set():
            self._ctx.check_cancelled()
        self.check()

    def proven(self) -> VerifiedArchive:
        """Wait for the proof; raise its error, or return what it proved."""
        self._done.wait()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._verified is not None
        return self._verified

    def settle(self, exc: BaseException) -> BaseException:
        """The error to report for an apply that raised `exc`. If the archive's content
        may be at fault, the proof finishes first and its error, if any, wins (the
        report is the one the passes in sequence would give); otherwise it is stopped."""
        if not isinstance(exc, InvalidArchiveError | InvalidArchive | _VerificationFailed):
            self.close()
            return exc
        try:
            self.proven()
        except _Stopped:
            return exc
        except BaseException as proof_error:  # noqa: BLE001 - returned to be raised
            return proof_error
        return exc

    @contextmanager
    def settling(self) -> Iterator[None]:
        """Around the apply: whatever it raises is replaced by what `settle` picks."""
        try:
            yield
        except BaseException as exc:  # noqa: BLE001 - raised again, or the proof's error
            raise self.settle(exc) from None

    def close(self) -> None:
        """Stop the proof if it still runs and wait for its thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


# -- pass 2: apply ---------------------------------------------------------------------


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def clear_target(conn: Session, ctx: RestoreContext) -> None:
    """Delete the target's rows of the chosen sections, children first. Audit logs are
    never deleted (DESIGN §4); members, backups and restores are not sections."""
    target = ctx.target_project_id
    for spec in reversed(SECTION_SPECS):
        if spec.name not in ctx.sections or spec.name in ("project", "audit_logs"):
            continue
        if spec.name == "files":
            release_files(conn, target)
        for ephemeral in EPHEMERAL_TABLES.get(spec.name, ()):
            table = _table(ephemeral)
            conn.execute(delete(table).where(table.c.project_id == target))
        table = spec.table
        conn.execute(delete(table).where(table.c[spec.project_column] == target))


def _transform(
    spec: SectionSpec, values: dict[str, Any], ctx: RestoreContext, plan: RestorePlan
) -> dict[str, Any]:
    """What a restore changes in an archived row (credentials copied disabled, audit
    entries marked imported); the row is a fresh dict parsed for this pass."""
    if (
        ctx.cross_project
        and not ctx.keep_credentials_active
        and spec.name in ("api_keys", "ssh_keys")
    ):
        values["is_active"] = False
    disabled_copy = ctx.cross_project and not ctx.keep_credentials_active
    if spec.name == "api_keys" and (disabled_copy or _row_key(spec, values) in plan.rehash):
        # a digest of the digest, salted with the target: unique (the same backup may be
        # restored into several projects; key_hash is unique server-wide), and no key can
        # ever match it. A key copied disabled into another project can never be enabled
        # again, so it never keeps the real digest: that would only block the key's own
        # project from getting it back from the same backup.
        disabled = f"disabled:{ctx.target_project_id}:{values['key_hash']}"
        values["key_hash"] = hashlib.sha256(disabled.encode()).hexdigest()
        values["is_active"] = False
    if spec.name == "audit_logs":
        values["imported"] = True
    return values


def apply(
    conn: Session,
    archives: ObjectStore,
    key: str,
    verification: Verification,
    blobs: BlobStore,
    ctx: RestoreContext,
) -> dict[str, int]:
    """Pass 2, inside the caller's transaction. Returns rows inserted per section; when
    it returns, the archive is proven (`verification.proven()`)."""
    ctx.progress.update(phase="apply")
    with verification.settling():
        clear_target(conn, ctx)
        inserted: Counter[str] = Counter()
        target = ctx.target_project_id
        plan = verification.plan

        def check() -> None:
            ctx.check_cancelled()
            verification.check()

        with open_archive(archives, key, ctx) as source:
            scan = ArchiveScan(source, ctx.limits, check_rows=False)
            for member in scan:
                if member.kind == "metadata":
                    check_fingerprint(scan.metadata, ctx)
                if member.kind in ("blob", "manifest"):
                    break  # sections come first; pass 1 verifies and stages the rest
                if member.kind != "section" or member.section not in ctx.sections:
                    continue
                spec = SPECS_BY_NAME[member.section]
                if spec.name == "files":
                    verification.proven()  # its blobs are staged: references can be taken
                verification.wait_planned(spec.name)
                skip = plan.skip.get(spec.name)
                loader = SectionLoader(conn, spec, target)
                if loader.reads_lines and not skip:
                    for lines in _batches(member.lines()):
                        check()
                        inserted[spec.name] += loader.insert_lines(lines)
                        ctx.progress.add(items=len(lines))
                    continue
                for batch in _batches(parse_rows(member)):
                    check()
                    if spec.name == "project":
                        _apply_project(conn, batch, target)
                        inserted[spec.name] += len(batch)
                        continue
                    rows = [r for r in batch if _row_key(spec, r) not in skip] if skip else batch
                    if spec.name == "audit_logs":
                        rows = _new_audit_rows(conn, spec, target, rows)
                    values = [_transform(spec, row, ctx, plan) for row in rows]
                    if spec.name == "files":
                        _acquire_blobs(conn, blobs, values)
                    inserted[spec.name] += loader.insert(values)
                    ctx.progress.add(items=len(batch))
        scan.check_against(verification.proven())
    return dict(inserted)


def _acquire_blobs(conn: Session, blobs: BlobStore, files: list[dict[str, Any]]) -> None:
    sizes: dict[str, int] = {}
    counts: Counter[str] = Counter()
    for row in files:
        sha256, size = row.get("sha256"), row.get("size")
        if not isinstance(sha256, str) or not isinstance(size, int) or isinstance(size, bool):
            raise InvalidArchiveError(details={"reason": "files rows need sha256 and size"})
        sizes.setdefault(sha256, size)
        counts[sha256] += 1
    for sha256, count in counts.items():
        acquire(conn, blobs, sha256, sizes[sha256], count)


def _apply_project(conn: Session, rows: list[dict[str, Any]], target: int) -> None:
    """The target keeps its name, description and members; its settings become the backup's."""
    if len(rows) != 1:
        raise InvalidArchiveError(
            details={"reason": "the project section must hold exactly one row"}
        )
    settings = rows[0].get("settings") or {}
    if not isinstance(settings, dict):
        raise InvalidArchiveError(details={"reason": "project settings must be an object"})
    projects = _table("projects")
    conn.execute(update(projects).where(projects.c.id == target).values(settings=settings))


def _new_audit_rows(
    conn: Session, spec: SectionSpec, target: int, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Audit history is append-only: entries the target already has are kept as they are."""
    table = spec.table
    ids = [r.get("id") for r in rows]
    present = set(
        conn.scalars(select(table.c.id).where(table.c.project_id == target, table.c.id.in_(ids)))
    )
    return [r for r in rows if r.get("id") not in present]


def check_counts(
    conn: Session, plan: RestorePlan, inserted: dict[str, int], ctx: RestoreContext
) -> None:
    """Before commit: every chosen section holds exactly what the archive brought."""
    for name in ctx.sections:
        if name in ("project", "audit_logs"):
            continue
        spec = SPECS_BY_NAME[name]
        expected = plan.sections[name].archive_rows - plan.sections[name].skipped
        actual = _count_existing(conn, spec, ctx.target_project_id)
        if actual != expected or inserted.get(name, 0) != expected:
            raise RestoreFailed(
                "The restored row counts do not match the archive; nothing was changed",
                details={"section": name, "expected": expected, "actual": actual},
            )
