"""`Verification`: pass 1 beside the apply. Which error a restore reports, what the apply
waits for, and that the proof's thread never outlives the restore. The restores through
the API in both modes are in test_hostile.py and test_faults.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from cloudbox.archive import VerifiedArchive
from cloudbox.jobs.progress import Cancelled, Progress
from cloudbox.restores import restorer
from cloudbox.restores.errors import InvalidArchiveError

VERIFIED = VerifiedArchive(
    metadata={}, manifest={"members": []}, sha256="0" * 64, size=0, sections={}, blobs={}
)


def _ctx(cancel: threading.Event | None = None) -> restorer.RestoreContext:
    def check() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled()

    return restorer.RestoreContext(
        target_project_id=2,
        source_project_id=1,
        sections=restorer.ALL_SECTIONS,
        keep_credentials_active=False,
        key_fingerprint="fp",
        progress=Progress(phase="apply"),
        check_cancelled=check,
    )


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "restore-verify"]


def _pass(
    steps: list[str], fail_with: BaseException | None = None, step_seconds: float = 0.01
) -> restorer.Pass1:
    """A pass 1 that plans `steps` in order, checking for a stop between them."""

    def run(
        ctx: restorer.RestoreContext,
        plan: restorer.RestorePlan,
        planned: Callable[[str], None],
        show_phase: bool,
    ) -> tuple[VerifiedArchive, restorer.RestorePlan]:
        assert not show_phase
        for step in steps:
            ctx.check_cancelled()
            time.sleep(step_seconds)
            plan.sections[step] = restorer.SectionPlan(archive_rows=1)
            planned(step)
        if fail_with is not None:
            raise fail_with
        return VERIFIED, plan

    return run


def test_the_apply_waits_for_a_section_plan_and_gets_the_proof() -> None:
    verification = restorer.Verification(_pass(["users", "documents"], step_seconds=0.2), _ctx())
    verification.start()
    started = time.monotonic()
    verification.wait_planned("documents")
    assert time.monotonic() - started >= 0.3
    assert set(verification.plan.sections) == {"users", "documents"}
    assert verification.proven() is VERIFIED
    verification.close()
    assert not _threads()


def test_a_failed_proof_wins_over_the_apply_error_it_caused() -> None:
    """The proof finds the archive corrupt while the apply, reading the same bytes, fails
    on a row: the restore reports the proof's error, as the passes in sequence would."""
    corrupt = InvalidArchiveError(details={"reason": "the archive's SHA-256 differs"})
    verification = restorer.Verification(_pass(["users"] * 5, fail_with=corrupt), _ctx())
    verification.start()
    row_error = InvalidArchiveError(details={"reason": "documents: a line is not a JSON object"})
    assert verification.settle(row_error) is corrupt
    assert not _threads()


def test_the_apply_stops_once_the_proof_failed() -> None:
    corrupt = InvalidArchiveError(details={"reason": "blob content differs"})
    verification = restorer.Verification(_pass([], fail_with=corrupt), _ctx())
    verification.start()
    # as apply(): the batches check the proof; settling() reports its error
    with pytest.raises(InvalidArchiveError) as raised, verification.settling():
        for _ in range(500):
            verification.check()
            time.sleep(0.01)
    assert raised.value is corrupt
    assert not _threads()


def test_an_apply_failing_on_its_own_stops_the_proof() -> None:
    """A database error in the apply is not the archive's fault: the proof is stopped
    rather than read to the end, and the apply's error is the one reported."""
    verification = restorer.Verification(_pass(["users"] * 1000, step_seconds=0.01), _ctx())
    verification.start()
    time.sleep(0.05)
    database_gone = ConnectionError("database is gone")
    started = time.monotonic()
    assert verification.settle(database_gone) is database_gone
    assert time.monotonic() - started < 2
    assert not _threads()


def test_a_cancelled_restore_stops_both_passes() -> None:
    cancel = threading.Event()
    verification = restorer.Verification(_pass(["users"] * 1000), _ctx(cancel))
    verification.start()
    cancel.set()
    # whichever pass notices first, the restore reports Cancelled
    with pytest.raises(Cancelled), verification.settling():
        verification.wait_planned("documents")
    assert not _threads()


def test_run_before_the_apply_raises_as_it_goes() -> None:
    corrupt = InvalidArchiveError(details={"reason": "truncated"})

    def run(*args: Any) -> tuple[VerifiedArchive, restorer.RestorePlan]:
        raise corrupt

    verification = restorer.Verification(run, _ctx())
    with pytest.raises(InvalidArchiveError):
        verification.run()
    assert not _threads()
