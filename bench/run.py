"""One bench run: CloudBox backup and restore against GNU tar/gzip on the same data, on the
same machine, in the same run; three rounds each, medians with min-max.

    python -m bench.run --scale 0.1          # or: make bench SCALE=0.1

Measures (see docs/performance.md for what each number means and the targets):

1. backup of the project (request → `completed`) vs `tar czf` of the same file bytes plus
   the documents as NDJSON, and vs `tar -I pigz` when pigz is installed;
2. archive size vs gzip -6's (`tar czf` output);
3. restore into a new project (request → `completed`) vs `tar xzf` of the baseline archive;
   every restored project is compared with its source and the run fails if they differ;
4. documents per second for backup and restore on SQLite and on PostgreSQL (a project
   holding only the documents);
5. peak RSS of the process doing the work (in the embedded SQLite shape the `cloudbox
   worker` child that `cloudbox serve` runs jobs in, with serve's own peak beside it, or
   serve itself with CLOUDBOX_EMBEDDED_WORKER=thread; the `cloudbox worker` on Redis in
   the PostgreSQL shape);
6. p50/p99 latency of `GET /api/projects/{id}` (and `GET /api/health/ready`) while a backup
   runs, vs the same requests idle.

It prints a table and writes bench/results/latest.json (and scale-<scale>.json).
Only ratios measured in the same run mean anything on a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import Engine, create_engine, text

from bench import baselines
from bench.common import (
    Api,
    BenchError,
    PeakRss,
    Proc,
    Server,
    code_digest,
    machine_info,
    percentile,
    start_server,
    start_worker,
    summary,
)
from bench.dataset import DatasetSpec, PlainData, load_project, write_plain
from bench.verify import api_files, check_restored, project_digest

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MiB = 2**20

TARGETS = {
    "backup_vs_tar_czf": ("≥", 8.0),
    "archive_size_vs_gzip6": ("≤", 1.10),
    "restore_vs_tar_xzf": ("≤", 1.5),
    "docs_backup_sqlite": ("≥", 250_000),
    "docs_backup_postgresql": ("≥", 150_000),
    "docs_restore_sqlite": ("≥", 100_000),
    "docs_restore_postgresql": ("≥", 60_000),
    "peak_rss_mb": ("≤", 200.0),
    "p99_ratio": ("≤", 3.0),
    "rss_flatness": ("≤", 1.2),
}


def log(message: str) -> None:
    stamp = datetime.now().strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", flush=True)


# -- latency -----------------------------------------------------------------------------


class LatencySampler:
    """Sequential cheap requests from a thread, alternating two endpoints."""

    def __init__(self, base_url: str, token: str, paths: list[str], pause: float = 0.02) -> None:
        self.client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        self.paths = paths
        self.pause = pause
        self.samples: dict[str, list[float]] = {p: [] for p in paths}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.errors = 0

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            path = self.paths[n % len(self.paths)]
            n += 1
            start = time.perf_counter()
            try:
                response = self.client.get(path)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            elapsed = time.perf_counter() - start
            if ok:
                self.samples[path].append(elapsed)
            else:
                self.errors += 1
            self._stop.wait(self.pause)

    def count(self) -> int:
        return min(len(v) for v in self.samples.values())

    def __enter__(self) -> LatencySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        self.client.close()


def latency_stats(samples: list[float]) -> dict[str, Any]:
    return {
        "n": len(samples),
        "p50_ms": percentile(samples, 50) * 1000,
        "p99_ms": percentile(samples, 99) * 1000,
        "max_ms": max(samples) * 1000 if samples else None,
    }


# -- the run -----------------------------------------------------------------------------


@dataclass
class Shape:
    """One CloudBox deployment under test and the process whose memory we watch."""

    name: str
    server: Server
    api: Api
    engine: Engine
    database_url: str
    worker: Proc | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def work_pid(self) -> int:
        return self.worker.pid if self.worker is not None else self.server.pid

    @property
    def work_process(self) -> str:
        if self.worker is not None:
            return "cloudbox worker"
        if self.serve_worker_pid() is not None:
            return "cloudbox worker child of serve"
        return "cloudbox serve"

    def serve_worker_pid(self) -> int | None:
        """The `cloudbox worker` child `cloudbox serve` runs jobs in (embedded shape,
        CLOUDBOX_EMBEDDED_WORKER=process), if any."""
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.server.pid).children(recursive=True):
                if "worker" in child.cmdline():
                    return int(child.pid)
        return None

    @property
    def job_pid(self) -> int:
        """The process that runs the jobs (for a profiler; RSS sampling uses `work_pid`,
        whose children it includes, so a restarted worker child is still counted)."""
        if self.worker is not None:
            return self.worker.pid
        return self.serve_worker_pid() or self.server.pid

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.api.close()
        if self.worker is not None:
            self.worker.stop()
        self.server.stop()
        self.engine.dispose()


def _record_rss(body: dict[str, Any], rss: PeakRss) -> None:
    """The job process's peak (the worker child of serve, else the sampled process) is
    the headline; the server's own peak and the sum are kept beside it."""
    body["peak_rss_mb"] = rss.job_peak_mb
    body["start_rss_mb"] = (rss.children_start if rss.children_peak else rss.own_start) / MiB
    body["server_peak_rss_mb"] = rss.own_peak_mb
    body["total_peak_rss_mb"] = rss.peak_mb


def _rss_text(rss: PeakRss) -> str:
    if not rss.children_peak:
        return f"{rss.own_peak_mb:.0f} MB"
    return (
        f"{rss.job_peak_mb:.0f} MB job process (serve itself {rss.own_peak_mb:.0f} MB, "
        f"together {rss.peak_mb:.0f} MB)"
    )


def _idle_rss(shape: Shape) -> dict[str, float]:
    own, children = PeakRss(shape.work_pid)._sample_split()
    return {"job": (children or own) / MiB, "server": own / MiB, "total": (own + children) / MiB}


def _rotate(items: list[Any], n: int) -> list[Any]:
    n %= len(items)
    return items[n:] + items[:n]


def backup_rounds(
    shape: Shape,
    project_id: int,
    rounds: int,
    label: str,
    baselines_for_round: list[tuple[str, Callable[[], float]]] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """`rounds` backups of the project, each interleaved with the baselines (order
    rotating per round, so drift on a shared machine hits both sides alike)."""
    backups: list[dict[str, Any]] = []
    base: dict[str, list[float]] = {name: [] for name, _ in baselines_for_round or []}

    def cloudbox(r: int) -> Callable[[], None]:
        def go() -> None:
            with PeakRss(shape.work_pid) as rss:
                body = shape.api.backup(project_id, f"{label} round {r + 1}")
            _record_rss(body, rss)
            backups.append(body)
            log(
                f"  {label} backup round {r + 1}: {body['seconds']:.2f} s, "
                f"{body['size'] / MiB:.1f} MiB, peak RSS {_rss_text(rss)}"
            )

        return go

    def baseline(name: str, fn: Callable[[], float], r: int) -> Callable[[], None]:
        def go() -> None:
            seconds = fn()
            base[name].append(seconds)
            log(f"  {name} round {r + 1}: {seconds:.2f} s")

        return go

    for r in range(rounds):
        steps = [cloudbox(r)] + [baseline(n, f, r) for n, f in baselines_for_round or []]
        for step in _rotate(steps, r):
            step()
    return backups, base


def restore_rounds(
    shape: Shape,
    source_id: int,
    backup_id: int,
    rounds: int,
    label: str,
    *,
    blob_root: Path | None,
    baseline: tuple[str, Callable[[int], float]] | None = None,
) -> tuple[list[dict[str, Any]], list[float]]:
    """Restore the backup into a new project `rounds` times, verify every result against
    the source, then drop the restored project (outside the timing)."""
    log(f"  digesting source project {source_id} for verification")
    source_digest = project_digest(shape.engine, source_id)
    source_files = api_files(shape.api, source_id)
    restores: list[dict[str, Any]] = []
    base: list[float] = []

    def cloudbox(r: int) -> Callable[[], None]:
        def go() -> None:
            target = shape.api.create_project(f"{label} restore {r + 1} {uuid.uuid4().hex[:6]}")
            with PeakRss(shape.work_pid) as rss:
                body = shape.api.restore(backup_id, target)
            _record_rss(body, rss)
            log(
                f"  {label} restore round {r + 1}: {body['seconds']:.2f} s, "
                f"peak RSS {_rss_text(rss)}; verifying"
            )
            body["verification"] = check_restored(
                shape.engine,
                shape.api,
                source_id,
                target,
                blob_root=blob_root,
                source_digest=source_digest,
                source_files=source_files,
            )
            restores.append(body)
            shape.api.delete(f"/api/projects/{target}")

        return go

    def base_step(r: int) -> Callable[[], None]:
        assert baseline is not None
        name, fn = baseline

        def go() -> None:
            seconds = fn(r)
            base.append(seconds)
            log(f"  {name} round {r + 1}: {seconds:.2f} s")

        return go

    for r in range(rounds):
        steps = [cloudbox(r)] + ([base_step(r)] if baseline else [])
        for step in _rotate(steps, r):
            step()
    return restores, base


def measure_latency(
    shape: Shape, project_id: int, min_samples: int, max_backups: int, idle_seconds: float
) -> dict[str, Any]:
    """p50/p99 of cheap requests while backups of the project run, then idle (the same
    number of samples, so the two p99s are comparable)."""
    paths = [f"/api/projects/{project_id}", "/api/health/ready"]
    busy: dict[str, list[float]] = {p: [] for p in paths}
    backups = 0
    while backups < max_backups:
        with LatencySampler(shape.server.base_url, shape.api.token, paths) as sampler:
            shape.api.backup(project_id, f"latency {backups + 1}")
        backups += 1
        for p in paths:
            busy[p] += sampler.samples[p]
        if min(len(v) for v in busy.values()) >= min_samples:
            break
    target = max(min(len(v) for v in busy.values()), 1)
    with LatencySampler(shape.server.base_url, shape.api.token, paths) as sampler:
        deadline = time.monotonic() + max(idle_seconds, 600)
        start = time.monotonic()
        while (sampler.count() < target or time.monotonic() - start < idle_seconds) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.05)
    idle = sampler.samples
    out: dict[str, Any] = {"backups_during_sampling": backups, "endpoints": {}}
    for p in paths:
        b, i = latency_stats(busy[p]), latency_stats(idle[p])
        out["endpoints"][p] = {
            "idle": i,
            "during_backup": b,
            "p50_ratio": b["p50_ms"] / i["p50_ms"],
            "p99_ratio": b["p99_ms"] / i["p99_ms"],
        }
    return out


# -- shapes ------------------------------------------------------------------------------


def sqlite_shape(workdir: Path, env: dict[str, str] | None = None) -> Shape:
    data_dir = workdir / "sqlite"
    server = start_server(data_dir, env)
    url = f"sqlite:///{(data_dir / 'cloudbox.db').resolve()}"
    api = Api(server.base_url, "bench@example.com")
    return Shape("sqlite", server, api, create_engine(url), url)


def _redis_ok(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except Exception:  # noqa: BLE001 - any failure means no Redis
        return False


def postgres_shape(
    workdir: Path, admin_url: str, redis_url: str | None, extra_env: dict[str, str] | None = None
) -> Shape:
    name = f"cloudbox_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    env = {"CLOUDBOX_DATABASE_URL": url, **(extra_env or {})}
    if redis_url:
        env |= {"CLOUDBOX_REDIS_URL": redis_url, "CLOUDBOX_QUEUE_NAME": f"bench-{name}"}
    data_dir = workdir / "postgresql"
    try:
        server = start_server(data_dir, env)
    except BaseException:
        drop_database(admin_url, name)
        raise
    worker = None
    try:
        if redis_url:
            worker = start_worker(data_dir, env)
        api = Api(server.base_url, "bench@example.com")
    except BaseException:
        if worker is not None:
            worker.stop()
        server.stop()
        drop_database(admin_url, name)
        raise
    shape = Shape("postgresql", server, api, create_engine(url), url, worker)
    shape.extra = {"database": name, "admin_url": admin_url, "redis": bool(redis_url)}
    return shape


def drop_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# -- reporting ---------------------------------------------------------------------------


def _met(key: str, value: float | None) -> bool | None:
    if value is None:
        return None
    op, bound = TARGETS[key]
    return value >= bound if op == "≥" else value <= bound


def _fmt_s(s: dict[str, Any]) -> str:
    if s.get("median") is None:
        return "n/a"
    return f"{s['median']:.2f} s ({s['min']:.2f}-{s['max']:.2f})"


def _fmt_rate(s: dict[str, Any] | None) -> str:
    if not s or s.get("median") is None:
        return "n/a"
    return f"{s['median']:,.0f}/s ({s['min']:,.0f}-{s['max']:,.0f})"


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(measure, CloudBox, baseline, ratio, target, met) rows of the summary table."""
    rows: list[tuple[str, str, str, str, str, str]] = []
    b = results["backup"]
    base = results["baselines"]
    yes = {True: "yes", False: "NO", None: "—"}

    def ratio(v: float | None, unit: str = "x") -> str:
        return "n/a" if v is None else f"{v:.2f}{unit}"

    rows.append(
        (
            "Backup, request → completed",
            _fmt_s(b["seconds_summary"]),
            f"tar czf {_fmt_s(base['tar_czf']['seconds'])}",
            f"{ratio(b['vs_tar_czf'])} faster",
            "≥ 8x faster",
            yes[_met("backup_vs_tar_czf", b["vs_tar_czf"])],
        )
    )
    if base.get("tar_pigz"):
        rows.append(
            (
                "Backup vs tar -I pigz",
                _fmt_s(b["seconds_summary"]),
                f"tar -I pigz {_fmt_s(base['tar_pigz']['seconds'])}",
                f"{ratio(b['vs_tar_pigz'])} faster",
                "—",
                "—",
            )
        )
    else:
        rows.append(("Backup vs tar -I pigz", "—", "pigz not installed: skipped", "—", "—", "—"))
    rows.append(
        (
            "Backup vs tar cf (no compression)",
            _fmt_s(b["seconds_summary"]),
            f"tar cf {_fmt_s(base['tar_cf']['seconds'])}",
            f"{ratio(b['vs_tar_cf'])} faster",
            "—",
            "—",
        )
    )
    a = results["archive"]
    rows.append(
        (
            "Archive size",
            f"{a['bytes'] / MiB:.1f} MiB",
            f"gzip -6 {a['gzip6_bytes'] / MiB:.1f} MiB",
            ratio(a["size_vs_gzip6"]),
            "≤ 1.10x",
            yes[_met("archive_size_vs_gzip6", a["size_vs_gzip6"])],
        )
    )
    r = results["restore"]
    rows.append(
        (
            "Restore into a new project",
            _fmt_s(r["seconds_summary"]),
            f"tar xzf {_fmt_s(base['tar_xzf']['seconds'])}",
            f"{ratio(r['vs_tar_xzf'])} the time",
            "≤ 1.5x",
            yes[_met("restore_vs_tar_xzf", r["vs_tar_xzf"])],
        )
    )
    dps = results["docs_per_second"]
    for op, target in (("backup", ("250,000", "150,000")), ("restore", ("100,000", "60,000"))):
        for engine, bound in zip(("sqlite", "postgresql"), target, strict=True):
            value = dps[op].get(engine)
            rows.append(
                (
                    f"Documents/s, {op}, {engine}",
                    _fmt_rate(dps[f"{op}_summary"].get(engine)),
                    "—",
                    "—",
                    f"≥ {bound}/s",
                    yes[_met(f"docs_{op}_{engine}", value)],
                )
            )
    rss = results["peak_rss"]
    rows.append(
        (
            f"Peak RSS ({rss['process']})",
            f"{results['peak_rss_mb']:.0f} MB (idle {rss['idle_mb']:.0f})",
            "—",
            "—",
            "≤ 200 MB",
            yes[_met("peak_rss_mb", results["peak_rss_mb"])],
        )
    )
    if rss.get("process", "").startswith("cloudbox worker child"):
        rows.append(
            (
                "Peak RSS (cloudbox serve itself; serve + child)",
                f"{rss['server_mb']:.0f} MB (idle {rss['server_idle_mb']:.0f}); "
                f"{rss['total_mb']:.0f} MB",
                "—",
                "—",
                "—",
                "—",
            )
        )
    if rss.get("postgresql"):
        pg = rss["postgresql"]
        rows.append(
            (
                f"Peak RSS PostgreSQL ({pg['process']})",
                f"{pg['peak_mb']:.0f} MB (idle {pg['idle_mb']:.0f})",
                "—",
                "—",
                "(documents only)",
                "—",
            )
        )
    flat = results.get("rss_flatness")
    if flat:
        rows.append(
            (
                "Peak RSS scale 4 / scale 1",
                f"{flat['scale_4_mb']:.0f} / {flat['scale_1_mb']:.0f} MB",
                "—",
                ratio(flat["ratio"]),
                "≤ 1.2x",
                yes[_met("rss_flatness", flat["ratio"])],
            )
        )
    lat = results["latency"]["endpoints"]
    for path, entry in lat.items():
        rows.append(
            (
                f"GET {path} p50 / p99",
                f"{entry['during_backup']['p50_ms']:.1f} / "
                f"{entry['during_backup']['p99_ms']:.1f} ms (during backup)",
                f"idle {entry['idle']['p50_ms']:.1f} / {entry['idle']['p99_ms']:.1f} ms",
                f"p99 {ratio(entry['p99_ratio'])}",
                "≤ 3x" if path.startswith("/api/projects") else "—",
                yes[_met("p99_ratio", entry["p99_ratio"])]
                if path.startswith("/api/projects")
                else "—",
            )
        )
    return rows


def print_table(results: dict[str, Any]) -> None:
    rows = table_rows(results)
    header = ("Measure", "CloudBox", "Baseline", "Ratio", "Target", "Met")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(6)]
    line = "  ".join("-" * w for w in widths)
    print()
    print(f"CloudBox bench, scale {results['scale']} ({results['dataset_summary']})")
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    print(line)
    m = results["machine"]
    print(f"machine: {m['nproc']} x {m['cpu_model']}, Python {m['python']}")


def markdown_table(results: dict[str, Any]) -> str:
    rows = table_rows(results)
    out = ["| Measure | CloudBox | Baseline | Ratio | Target | Met |", "|---|---|---|---|---|---|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


# -- main --------------------------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _pair_ratios(xs: list[float], ys: list[float]) -> dict[str, Any]:
    """Per-round ratios x/y (same round, so the same machine load)."""
    return summary([x / y for x, y in zip(xs, ys, strict=False) if y])


@contextlib.contextmanager
def _workdir(path: Path | None, keep: bool) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    tmp = Path(tempfile.mkdtemp(prefix="cloudbox-bench-"))
    try:
        yield tmp
    finally:
        if keep:
            print(f"work directory kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _rss_flatness(results_dir: Path) -> dict[str, Any] | None:
    def peak(scale: str) -> float | None:
        path = results_dir / f"scale-{scale}.json"
        if not path.exists():
            return None
        with contextlib.suppress(ValueError, KeyError, TypeError):
            return float(json.loads(path.read_text())["peak_rss_mb"])
        return None

    one, four = peak("1"), peak("4")
    if one is None or four is None:
        return None
    return {"scale_1_mb": one, "scale_4_mb": four, "ratio": four / one}


def scale_label(scale: float) -> str:
    return f"{scale:g}"


def run(args: argparse.Namespace) -> dict[str, Any]:
    spec = DatasetSpec.for_scale(args.scale, args.seed)
    results: dict[str, Any] = {
        "scale": args.scale,
        "rounds": args.rounds,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "code": code_digest(),
        "dataset": spec.as_dict(),
        "server_env": args.server_env,
        "definitions": {
            "backup.vs_tar_czf": "tar czf seconds / CloudBox backup seconds (times faster)",
            "restore.vs_tar_xzf": "CloudBox restore seconds / tar xzf seconds (times slower)",
            "archive.size_vs_gzip6": "CloudBox archive bytes / tar czf (gzip -6) bytes",
            "docs_per_second": "documents / request→completed seconds, documents-only project",
            "peak_rss_mb": "peak RSS of the process doing the work, during every SQLite "
            "backup and restore round, full project and documents-only (serve's worker "
            "child when jobs run in one; peak_rss.server_mb is serve itself, "
            "peak_rss.total_mb the two together)",
            "p99_ratio": "p99 of GET /api/projects/{id} during a backup / idle p99",
            "seconds": "server-side created_at → completed_at of the backup or restore row",
        },
    }
    pigz = baselines.have_pigz()
    with _workdir(args.workdir, args.keep) as work:
        log(f"scale {args.scale}: {spec}; work directory {work}")
        t0 = time.perf_counter()
        plain: PlainData = write_plain(spec, work / "plain")
        results["dataset"] |= {
            "file_bytes": plain.file_bytes,
            "ndjson_bytes": plain.ndjson_bytes,
            "total_bytes": plain.file_bytes + plain.ndjson_bytes,
            "write_seconds": time.perf_counter() - t0,
        }
        results["dataset_summary"] = (
            f"{spec.documents:,} documents, {spec.small_files:,} small + {spec.large_files} "
            f"large files, {(plain.file_bytes + plain.ndjson_bytes) / MiB:,.0f} MiB"
        )
        log(f"plain copy written: {results['dataset_summary']}")

        shape = sqlite_shape(work, args.server_env)
        try:
            t0 = time.perf_counter()
            main = load_project(shape.api.client, shape.database_url, spec, "bench", plain=plain)
            docs = load_project(
                shape.api.client, shape.database_url, spec, "docs", plain=None, with_files=False
            )
            results["dataset"]["load_seconds_sqlite"] = time.perf_counter() - t0
            log(f"loaded into SQLite in {results['dataset']['load_seconds_sqlite']:.1f} s")
            idle_rss = _idle_rss(shape)
            work_process = shape.work_process  # while serve (and its worker child) runs

            # (1) backup vs tar czf / pigz / tar cf, (2) sizes
            czf = work / "baseline.tar.gz"
            pigz_out = work / "baseline-pigz.tar.gz"
            cf = work / "baseline.tar"
            steps: list[tuple[str, Callable[[], float]]] = [
                ("tar czf", lambda: baselines.tar_czf(plain.root, czf)),
                ("tar cf", lambda: baselines.tar_cf(plain.root, cf)),
            ]
            if pigz:
                steps.append(("tar -I pigz", lambda: baselines.tar_pigz(plain.root, pigz_out)))
            log("backup rounds (project with documents and files)")
            backups, base = backup_rounds(shape, main.project_id, args.rounds, "bench", steps)
            gzip6_bytes = czf.stat().st_size
            pigz_bytes = pigz_out.stat().st_size if pigz else None
            cf.unlink(missing_ok=True)
            pigz_out.unlink(missing_ok=True)

            # (3) restore vs tar xzf
            log("restore rounds")
            restores, xzf = restore_rounds(
                shape,
                main.project_id,
                backups[0]["id"],
                args.rounds,
                "bench",
                blob_root=shape.server.data_dir / "blobs",
                baseline=(
                    "tar xzf",
                    lambda r: _timed_then_clean(
                        lambda: baselines.tar_xzf(czf, work / f"xzf-{r}"), work / f"xzf-{r}"
                    ),
                ),
            )

            # (4) documents per second, SQLite
            log("documents-only rounds, SQLite")
            doc_backups, _ = backup_rounds(shape, docs.project_id, args.rounds, "docs")
            doc_restores, _ = restore_rounds(
                shape, docs.project_id, doc_backups[0]["id"], args.rounds, "docs", blob_root=None
            )

            # (6) latency
            log("latency: cheap requests during a backup, then idle")
            latency = measure_latency(
                shape,
                main.project_id,
                min_samples=args.latency_samples,
                max_backups=args.latency_backups,
                idle_seconds=args.latency_idle_seconds,
            )
            if args.profile:
                results["profile"] = profile_jobs(shape, main.project_id, backups[0]["id"], work)
        finally:
            shape.close()

        pg: dict[str, Any] | None = None
        if args.postgres:
            pg = run_postgres(args, spec, work)

    b_secs = [b["seconds"] for b in backups]
    r_secs = [r["seconds"] for r in restores]
    b_med, r_med = statistics.median(b_secs), statistics.median(r_secs)
    czf_s, xzf_s, cf_s = base["tar czf"], xzf, base["tar cf"]
    pigz_s = base.get("tar -I pigz", [])
    archive_bytes = statistics.median([b["size"] for b in backups])
    results["backup"] = {
        "seconds": b_med,
        "seconds_summary": summary(b_secs),
        "wall_seconds": summary([b["wall_seconds"] for b in backups]),
        "vs_tar_czf": _ratio(statistics.median(czf_s), b_med),
        "vs_tar_czf_per_round": _pair_ratios(czf_s, b_secs),
        "vs_tar_pigz": _ratio(statistics.median(pigz_s), b_med) if pigz_s else None,
        "vs_tar_pigz_per_round": _pair_ratios(pigz_s, b_secs) if pigz_s else None,
        "vs_tar_cf": _ratio(statistics.median(cf_s), b_med),
        "sections": backups[0]["sections"],
    }
    results["baselines"] = {
        "tar_czf": {"seconds": summary(czf_s), "bytes": gzip6_bytes},
        "tar_pigz": {"seconds": summary(pigz_s), "bytes": pigz_bytes} if pigz_s else None,
        "tar_cf": {"seconds": summary(cf_s)},
        "tar_xzf": {"seconds": summary(xzf_s)},
        "pigz_available": pigz,
    }
    results["archive"] = {
        "bytes": archive_bytes,
        "gzip6_bytes": gzip6_bytes,
        "size_vs_gzip6": archive_bytes / gzip6_bytes,
        "pigz_bytes": pigz_bytes,
    }
    results["restore"] = {
        "seconds": r_med,
        "seconds_summary": summary(r_secs),
        "wall_seconds": summary([r["wall_seconds"] for r in restores]),
        "vs_tar_xzf": _ratio(r_med, statistics.median(xzf_s)),
        "vs_tar_xzf_per_round": _pair_ratios(r_secs, xzf_s),
    }
    n_docs = spec.documents

    def rates(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return summary([n_docs / x["seconds"] for x in rows])

    dps_summary = {
        "backup_summary": {"sqlite": rates(doc_backups)},
        "restore_summary": {"sqlite": rates(doc_restores)},
    }
    if pg is not None:
        dps_summary["backup_summary"]["postgresql"] = rates(pg["backups"])
        dps_summary["restore_summary"]["postgresql"] = rates(pg["restores"])
    results["docs_per_second"] = {
        "backup": {e: s["median"] for e, s in dps_summary["backup_summary"].items()},
        "restore": {e: s["median"] for e, s in dps_summary["restore_summary"].items()},
        **dps_summary,
        "documents": n_docs,
        "seconds": {
            "backup": {"sqlite": summary([x["seconds"] for x in doc_backups])},
            "restore": {"sqlite": summary([x["seconds"] for x in doc_restores])},
        },
    }
    if pg is not None:
        results["docs_per_second"]["seconds"]["backup"]["postgresql"] = summary(
            [x["seconds"] for x in pg["backups"]]
        )
        results["docs_per_second"]["seconds"]["restore"]["postgresql"] = summary(
            [x["seconds"] for x in pg["restores"]]
        )
    # every SQLite round: the documents-only restore is the heaviest at scale 4
    results["peak_rss_mb"] = max(
        x["peak_rss_mb"] for x in backups + restores + doc_backups + doc_restores
    )
    results["peak_rss"] = {
        "process": f"{work_process}, SQLite embedded shape",
        "idle_mb": idle_rss["job"],
        "server_mb": max(x["server_peak_rss_mb"] for x in backups + restores),
        "server_idle_mb": idle_rss["server"],
        "total_mb": max(x["total_peak_rss_mb"] for x in backups + restores),
        "total_idle_mb": idle_rss["total"],
        "backup_mb": summary([x["peak_rss_mb"] for x in backups]),
        "restore_mb": summary([x["peak_rss_mb"] for x in restores]),
        "documents_only_mb": max(x["peak_rss_mb"] for x in doc_backups + doc_restores),
        "postgresql": pg["rss"] if pg else None,
    }
    results["latency"] = latency
    primary = latency["endpoints"][f"/api/projects/{main.project_id}"]
    results["p99_ratio"] = primary["p99_ratio"]
    results["verification"] = {
        "restores": len(restores) + len(doc_restores) + (len(pg["restores"]) if pg else 0),
        "all_equal": all(
            x["verification"]["equal"]
            for x in restores + doc_restores + (pg["restores"] if pg else [])
        ),
        "rows": restores[0]["verification"]["rows"],
        "files": restores[0]["verification"]["files"],
    }
    if pg is not None:
        results["postgresql"] = {k: v for k, v in pg.items() if k not in ("backups", "restores")}
    else:
        results["postgresql"] = {"skipped": True}
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def _timed_then_clean(fn: Callable[[], float], path: Path) -> float:
    try:
        return fn()
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_postgres(args: argparse.Namespace, spec: DatasetSpec, work: Path) -> dict[str, Any]:
    redis_url = args.redis_url if _redis_ok(args.redis_url) else None
    log(
        "PostgreSQL shape: "
        + ("cloudbox worker on Redis" if redis_url else "embedded (Redis unavailable)")
    )
    shape = postgres_shape(work, args.pg_admin_url, redis_url, args.server_env)
    try:
        t0 = time.perf_counter()
        docs = load_project(
            shape.api.client, shape.database_url, spec, "docs", plain=None, with_files=False
        )
        load_seconds = time.perf_counter() - t0
        idle = _idle_rss(shape)["job"]
        log(f"loaded {docs.documents:,} documents into PostgreSQL in {load_seconds:.1f} s")
        backups, _ = backup_rounds(shape, docs.project_id, args.rounds, "pg docs")
        restores, _ = restore_rounds(
            shape, docs.project_id, backups[0]["id"], args.rounds, "pg docs", blob_root=None
        )
        return {
            "backups": backups,
            "restores": restores,
            "load_seconds": load_seconds,
            "shape": "cloudbox worker on Redis" if redis_url else "embedded",
            "rss": {
                "process": shape.work_process,
                "idle_mb": idle,
                "peak_mb": max(x["peak_rss_mb"] for x in backups + restores),
            },
        }
    finally:
        shape.close()
        drop_database(shape.extra["admin_url"], shape.extra["database"])


def profile_jobs(shape: Shape, project_id: int, backup_id: int, work: Path) -> dict[str, Any]:
    """py-spy the process doing the work during one extra backup and one restore."""
    from bench.profiling import py_spy

    out: dict[str, Any] = {}
    with py_spy(shape.job_pid, RESULTS_DIR / f"profile-backup-{shape.name}.txt") as prof:
        shape.api.backup(project_id, "profiled")
    out["backup"] = prof.report
    target = shape.api.create_project("profiled restore")
    with py_spy(shape.job_pid, RESULTS_DIR / f"profile-restore-{shape.name}.txt") as prof:
        shape.api.restore(backup_id, target)
    out["restore"] = prof.report
    shape.api.delete(f"/api/projects/{target}")
    _ = work
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="1 ≈ 1 GiB (default 0.1)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=DatasetSpec.for_scale(1).seed)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp directory")
    parser.add_argument("--keep", action="store_true", help="keep the temp work directory")
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="where to write the JSON (default bench/results/latest.json and scale-<s>.json)",
    )
    parser.add_argument("--no-postgres", dest="postgres", action="store_false")
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get(
            "CLOUDBOX_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL database the bench may CREATE/DROP databases from",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("CLOUDBOX_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis for the scale-out shape (without it, PostgreSQL runs embedded)",
    )
    parser.add_argument("--latency-samples", type=int, default=300)
    parser.add_argument("--latency-backups", type=int, default=5)
    parser.add_argument("--latency-idle-seconds", type=float, default=3.0)
    parser.add_argument("--profile", action="store_true", help="py-spy one backup and restore")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the serve/worker processes (experiments), repeatable",
    )
    args = parser.parse_args(argv)
    env: dict[str, str] = {}
    for item in args.server_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--server-env expects NAME=VALUE, got {item!r}")
        env[name] = value
    args.server_env = env
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.postgres:
        try:
            admin = create_engine(args.pg_admin_url)
            with admin.connect() as conn:
                conn.execute(text("SELECT 1"))
            admin.dispose()
        except Exception as exc:  # noqa: BLE001 - any failure means no PostgreSQL
            print(f"PostgreSQL unavailable ({str(exc).splitlines()[0]}): skipping it")
            args.postgres = False
    results = run(args)
    if args.results is None:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / f"scale-{scale_label(args.scale)}.json").write_text(
            json.dumps(results, indent=2, default=str) + "\n"
        )
        flat = _rss_flatness(RESULTS_DIR)
        if flat:
            results["rss_flatness"] = flat
        target = RESULTS_DIR / "latest.json"
    else:
        target = args.results
        target.parent.mkdir(parents=True, exist_ok=True)
    results["targets"] = {
        "backup_vs_tar_czf": _met("backup_vs_tar_czf", results["backup"]["vs_tar_czf"]),
        "archive_size_vs_gzip6": _met("archive_size_vs_gzip6", results["archive"]["size_vs_gzip6"]),
        "restore_vs_tar_xzf": _met("restore_vs_tar_xzf", results["restore"]["vs_tar_xzf"]),
        **{
            f"docs_{op}_{engine}": _met(f"docs_{op}_{engine}", value)
            for op in ("backup", "restore")
            for engine, value in results["docs_per_second"][op].items()
        },
        "peak_rss_mb": _met("peak_rss_mb", results["peak_rss_mb"]),
        "p99_ratio": _met("p99_ratio", results["p99_ratio"]),
        "rss_flatness": _met("rss_flatness", results["rss_flatness"]["ratio"])
        if results.get("rss_flatness")
        else None,
    }
    target.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_table(results)
    if args.markdown:
        print()
        print(markdown_table(results))
    print(f"\nresults: {target}")
    return results


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        print(f"\nBENCH FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
