"""CI smoke test of the bench (bench/run.py): the harness runs end to end at a tiny scale
and every restored project equals its source. Performance is measured by `make bench`,
never here: nothing below looks at a time, a size or a ratio."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import run as bench_run

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_bench_completes_and_every_restored_project_equals_its_source(tmp_path: Path) -> None:
    tiny = ["--scale", "0.005", "--rounds", "1", "--latency-samples", "20"]
    quick = ["--latency-backups", "1", "--latency-idle-seconds", "0.5"]
    paths = ["--workdir", str(tmp_path / "work"), "--results", str(tmp_path / "results.json")]
    results = bench_run.main([*tiny, *quick, *paths])
    assert (tmp_path / "results.json").is_file()
    verification = results["verification"]
    # the full project and the documents-only project on SQLite, plus PostgreSQL if present
    assert verification["restores"] >= 2
    assert verification["all_equal"] is True
    assert verification["rows"]["documents"] == results["dataset"]["documents"]
    expected_files = results["dataset"]["small_files"] + results["dataset"]["large_files"]
    assert verification["files"] == expected_files
    for key in ("backup", "restore", "archive", "docs_per_second", "peak_rss_mb", "p99_ratio"):
        assert key in results
