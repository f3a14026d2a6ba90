"""The bench dataset: deterministic (seeded), sized by `--scale`, where scale 1 is about
1 GiB:

* 1,000,000 JSON documents of nested fields, in three collections (`users` 10%,
  `orders` 60%, `events` 30%), about 420 bytes each as stored;
* 2,000 small files of 1-64 KiB, alternately compressible text and random bytes;
* 10 large files of 50 MiB, alternately random bytes and compressible text.

Counts scale linearly. Small files: `max(2, round(2000 x scale))`. Large files keep their
number (10, half random, half text) and shrink in size below scale 1 (`50 MiB x scale`,
so scale 0.1 has 10 files of 5 MiB), and keep their size and grow in number above it
(scale 4: 40 files of 50 MiB). So the byte mix is the same at every scale.

The same dataset is loaded into a CloudBox project — documents straight into the
server's database (the API would take hours for a million), files through the public
upload API so blobs, rows and references are exactly what users create — and written as
plain files plus `documents.ndjson` into a directory for the tar/gzip baselines.

`python -m bench.dataset --scale 0.01 --out DIR` writes only the plain directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import string
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

MiB = 2**20
KiB = 2**10
DEFAULT_SEED = 20250101
BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
COLLECTIONS = ("users", "orders", "events")
BUCKETS = ("assets", "media")


@dataclass(frozen=True)
class DatasetSpec:
    scale: float
    seed: int
    documents: int
    small_files: int
    large_files: int
    large_file_bytes: int

    @classmethod
    def for_scale(cls, scale: float, seed: int = DEFAULT_SEED) -> DatasetSpec:
        if scale <= 0:
            raise ValueError("scale must be positive")
        if scale <= 1:
            large_files, large_bytes = 10, max(4 * KiB, round(50 * MiB * scale))
        else:
            large_files, large_bytes = max(10, round(10 * scale)), 50 * MiB
        return cls(
            scale=scale,
            seed=seed,
            documents=max(10, round(1_000_000 * scale)),
            small_files=max(2, round(2000 * scale)),
            large_files=large_files,
            large_file_bytes=large_bytes,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "seed": self.seed,
            "documents": self.documents,
            "small_files": self.small_files,
            "large_files": self.large_files,
            "large_file_bytes": self.large_file_bytes,
        }


# -- documents ---------------------------------------------------------------------------


def _words(rng: random.Random, count: int) -> list[str]:
    letters = string.ascii_lowercase
    out: set[str] = set()
    while len(out) < count:
        out.add("".join(rng.choices(letters, k=rng.randint(2, 10))))
    return sorted(out)


class _Vocabulary:
    """Word pools every generator draws from (built from the seed, so deterministic)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"vocab:{seed}")
        self.words = _words(rng, 3000)
        self.first = [w.title() for w in _words(rng, 400)]
        self.last = [w.title() for w in _words(rng, 800)]
        self.cities = [w.title() for w in _words(rng, 300)]
        self.countries = ["DE", "FR", "US", "GB", "NL", "ES", "IT", "SE", "PL", "JP", "BR", "IN"]
        self.tags = _words(rng, 60)
        self.products = [
            f"{a} {b}".title() for a, b in zip(self.words[:500], self.words[500:1000], strict=True)
        ]
        self.event_types = [
            "page_view", "click", "signup", "login", "logout", "purchase", "search", "share",
        ]  # fmt: skip
        self.paths = ["/" + "/".join(rng.sample(self.words, rng.randint(1, 3))) for _ in range(200)]
        self.agents = [
            {"browser": b, "os": o, "mobile": m}
            for b in ("firefox", "chrome", "safari", "edge")
            for o in ("linux", "macos", "windows", "ios", "android")
            for m in (False, True)
        ]
        self.statuses = ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]


class _Draw:
    """Fast draws from one seeded generator (`random.randint`/`choice` cost ~0.5 µs each
    in pure Python; a million documents make that matter)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.r = rng.random

    def between(self, lo: int, hi: int) -> int:
        return lo + int(self.r() * (hi - lo + 1))

    def pick(self, seq: Any) -> Any:
        return seq[int(self.r() * len(seq))]

    def some(self, seq: Any, lo: int, hi: int) -> list[Any]:
        n = len(seq)
        r = self.r
        return [seq[int(r() * n)] for _ in range(lo + int(r() * (hi - lo + 1)))]

    def sentence(self, words: list[str], lo: int, hi: int) -> str:
        return " ".join(self.some(words, lo, hi)).capitalize() + "."


def _sentence(rng: random.Random, words: list[str], lo: int, hi: int) -> str:
    return " ".join(rng.choices(words, k=rng.randint(lo, hi))).capitalize() + "."


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _user(d: _Draw, v: _Vocabulary, n: int, at: datetime) -> dict[str, Any]:
    first, last = d.pick(v.first), d.pick(v.last)
    r = d.r
    return {
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{n}@example.com",
        "age": d.between(16, 90),
        "active": r() < 0.8,
        "address": {
            "street": f"{d.between(1, 999)} {d.pick(v.words).title()} Street",
            "city": d.pick(v.cities),
            "zip": f"{d.between(10000, 99999)}",
            "country": d.pick(v.countries),
            "geo": {"lat": round(r() * 180 - 90, 5), "lng": round(r() * 360 - 180, 5)},
        },
        "tags": sorted(set(d.some(v.tags, 0, 4))),
        "preferences": {
            "newsletter": r() < 0.3,
            "theme": "dark" if r() < 0.4 else "light",
            "language": d.pick(("en", "de", "fr", "es", "ja")),
        },
        "last_login": _iso(at + timedelta(seconds=d.between(0, 10**7))),
        "login_count": d.between(0, 5000),
        "bio": d.sentence(v.words, 4, 16) if r() < 0.5 else None,
    }


def _order(d: _Draw, v: _Vocabulary, n: int, at: datetime) -> dict[str, Any]:
    r = d.r
    items = [
        {
            "sku": f"SKU-{d.between(10000, 99999)}",
            "name": d.pick(v.products),
            "qty": d.between(1, 5),
            "price": round(r() * 200 + 1, 2),
        }
        for _ in range(d.between(1, 4))
    ]
    return {
        "order_no": f"ORD-{n:09d}",
        "customer": {"id": f"u{d.between(1, 100_000)}", "name": d.pick(v.last)},
        "status": d.pick(v.statuses),
        "items": items,
        "total": round(sum(i["qty"] * i["price"] for i in items), 2),
        "currency": "EUR" if r() < 0.6 else "USD",
        "shipping": {
            "method": d.pick(("standard", "express", "pickup")),
            "address": {"city": d.pick(v.cities), "country": d.pick(v.countries)},
            "eta_days": d.between(1, 14),
        },
        "placed_at": _iso(at),
        "notes": d.sentence(v.words, 3, 12) if r() < 0.25 else None,
    }


def _event(d: _Draw, v: _Vocabulary, n: int, at: datetime) -> dict[str, Any]:
    r = d.r
    return {
        "type": d.pick(v.event_types),
        "ts": _iso(at),
        "session": f"{d.rng.getrandbits(64):016x}",
        "user_id": f"u{d.between(1, 100_000)}",
        "properties": {
            "path": d.pick(v.paths),
            "referrer": d.pick(v.paths) if r() < 0.5 else None,
            "duration_ms": d.between(5, 60_000),
            "ua": d.pick(v.agents),
            "experiment": {"id": f"exp-{d.between(1, 30)}", "variant": d.pick("ABC")},
        },
        "metrics": [round(r() * 1000, 3) for _ in range(d.between(0, 6))],
    }


_KINDS: tuple[str, ...] = ("users", *["orders"] * 6, *["events"] * 3)


@dataclass(frozen=True)
class DocumentRow:
    collection: str
    id: str
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def documents(spec: DatasetSpec) -> Iterator[DocumentRow]:
    """Every document of the dataset, in a fixed order (regenerated on each call)."""
    v = _Vocabulary(spec.seed)
    rng = random.Random(f"documents:{spec.seed}")
    d = _Draw(rng)
    makers = {"users": _user, "orders": _order, "events": _event}
    step = max(1, 3 * 10**7 // max(spec.documents, 1))  # ~1 year of creation times
    for n in range(spec.documents):
        collection = _KINDS[n % 10]
        created = BASE_TIME + timedelta(seconds=n * step + d.between(0, step))
        updated = created + timedelta(seconds=d.between(0, 10**6)) if d.r() < 0.3 else created
        doc_id = f"{rng.getrandbits(80):020x}"
        yield DocumentRow(
            collection, doc_id, makers[collection](d, v, n, created), created, updated
        )


def ndjson_line(row: DocumentRow) -> bytes:
    """The NDJSON export of one document (the baselines' `documents.ndjson`)."""
    return json.dumps(
        {
            "collection": row.collection,
            "id": row.id,
            "data": row.data,
            "version": 1,
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


# -- files -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileSpec:
    bucket: str
    folder: str
    name: str
    size: int
    kind: str  # "text" or "random"
    seed: str

    @property
    def relpath(self) -> str:
        if self.folder:
            return f"{self.bucket}/{self.folder}/{self.name}"
        return f"{self.bucket}/{self.name}"


def files(spec: DatasetSpec) -> list[FileSpec]:
    rng = random.Random(f"files:{spec.seed}")
    out: list[FileSpec] = []
    folders = ["img", "docs", "exports/2024", "exports/2025", "avatars", "logs"]
    for n in range(spec.small_files):
        kind = "text" if n % 2 == 0 else "random"
        ext = ".txt" if kind == "text" else ".bin"
        out.append(
            FileSpec(
                bucket="assets",
                folder=folders[n % len(folders)],
                name=f"small-{n:05d}{ext}",
                size=rng.randint(1 * KiB, 64 * KiB),
                kind=kind,
                seed=f"small:{spec.seed}:{n}",
            )
        )
    for n in range(spec.large_files):
        kind = "random" if n % 2 == 0 else "text"
        out.append(
            FileSpec(
                bucket="media",
                folder="",
                name=f"large-{n:03d}.{'bin' if kind == 'random' else 'log'}",
                size=spec.large_file_bytes,
                kind=kind,
                seed=f"large:{spec.seed}:{n}",
            )
        )
    return out


_TEXT_CACHE: dict[int, tuple[list[str], list[str]]] = {}
_TEXT_LOCK = threading.Lock()


def _text_pools(seed: int) -> tuple[list[str], list[str]]:
    with _TEXT_LOCK:
        if seed not in _TEXT_CACHE:
            v = _Vocabulary(seed)
            rng = random.Random(f"text:{seed}")
            sentences = [_sentence(rng, v.words, 4, 14) for _ in range(1 << 14)]
            components = [f"{rng.choice(v.words)}.{rng.choice(v.words)}" for _ in range(64)]
            _TEXT_CACHE[seed] = (sentences, components)
        return _TEXT_CACHE[seed]


def file_chunks(fs: FileSpec, dataset_seed: int, chunk: int = MiB) -> Iterator[bytes]:
    """The file's bytes, generated chunk by chunk (never held whole)."""
    rng = random.Random(fs.seed)
    remaining = fs.size
    if fs.kind == "random":
        while remaining > 0:
            n = min(chunk, remaining)
            remaining -= n
            yield rng.randbytes(n)
        return
    sentences, components = _text_pools(dataset_seed)
    levels = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")
    bits = rng.getrandbits
    stamp = 1_700_000_000_000 + rng.randint(0, 10**9)
    pending = bytearray()
    while remaining > 0:
        lines = []
        for _ in range(2000):
            stamp += bits(10)
            lines.append(
                f"{stamp} {levels[bits(8) % 6]} {components[bits(6)]} "
                f"{sentences[bits(14)]} id={bits(24)} took={bits(12)}ms\n"
            )
        pending += "".join(lines).encode()
        while len(pending) >= chunk and remaining > 0:
            n = min(chunk, remaining)
            yield bytes(pending[:n])
            del pending[:n]
            remaining -= n
        if remaining and remaining < chunk and len(pending) >= remaining:
            yield bytes(pending[:remaining])
            remaining = 0


# -- the plain directory (baselines) -----------------------------------------------------


@dataclass
class PlainData:
    root: Path
    file_bytes: int
    ndjson_bytes: int
    sha256: dict[str, str]  # relpath -> hex digest

    @property
    def files_dir(self) -> Path:
        return self.root / "files"

    @property
    def ndjson(self) -> Path:
        return self.root / "documents.ndjson"


def write_plain(spec: DatasetSpec, root: Path) -> PlainData:
    """Write every file and documents.ndjson under `root` (the baselines' input)."""
    root.mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}
    total = 0
    for fs in files(spec):
        path = root / "files" / fs.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        with path.open("wb") as out:
            for piece in file_chunks(fs, spec.seed):
                h.update(piece)
                out.write(piece)
        digests[fs.relpath] = h.hexdigest()
        total += fs.size
    ndjson = root / "documents.ndjson"
    with ndjson.open("wb") as out:
        buffer: list[bytes] = []
        for row in documents(spec):
            buffer.append(ndjson_line(row))
            if len(buffer) >= 5000:
                out.write(b"\n".join(buffer) + b"\n")
                buffer.clear()
        if buffer:
            out.write(b"\n".join(buffer) + b"\n")
    return PlainData(root, total, ndjson.stat().st_size, digests)


# -- loading into a CloudBox project -----------------------------------------------------


@dataclass
class LoadedProject:
    project_id: int
    name: str
    collections: dict[str, str]  # name -> id
    documents: int
    files: int
    file_bytes: int


def _sqlite_stamp(moment: datetime) -> str:
    """How SQLAlchemy's DateTime stores a (naive UTC) timestamp in SQLite."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def insert_documents(
    database_url: str,
    project_id: int,
    collections: dict[str, str],
    spec: DatasetSpec,
    batch: int = 10_000,
) -> int:
    """Insert every document straight into the server's database, as the app would store
    it (`data` as `json.dumps` text, SQLAlchemy's JSON serialisation; naive UTC times)."""
    dumps = json.dumps
    sql = (
        "INSERT INTO documents (project_id, collection_id, id, data, version, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)"
    )
    count = 0
    if database_url.startswith("sqlite"):
        import sqlite3

        path = database_url.split("///", 1)[1]
        lite = sqlite3.connect(path, timeout=60, isolation_level=None)
        try:
            lite.execute("PRAGMA busy_timeout=60000")
            rows: list[tuple[Any, ...]] = []

            def flush() -> None:
                lite.execute("BEGIN IMMEDIATE")
                lite.executemany(sql, rows)
                lite.execute("COMMIT")
                rows.clear()

            for doc in documents(spec):
                rows.append(
                    (
                        project_id,
                        collections[doc.collection],
                        doc.id,
                        dumps(doc.data),
                        _sqlite_stamp(doc.created_at),
                        _sqlite_stamp(doc.updated_at),
                    )
                )
                count += 1
                if len(rows) >= batch:
                    flush()
            if rows:
                flush()
        finally:
            lite.close()
        return count

    import psycopg

    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        copy_sql = (
            "COPY documents (project_id, collection_id, id, data, version, created_at, "
            "updated_at) FROM STDIN"
        )
        with cur.copy(copy_sql) as copy:
            for doc in documents(spec):
                copy.write_row(
                    (
                        project_id,
                        collections[doc.collection],
                        doc.id,
                        dumps(doc.data),
                        1,
                        doc.created_at.replace(tzinfo=None),
                        doc.updated_at.replace(tzinfo=None),
                    )
                )
                count += 1
        conn.commit()
    return count


def _upload(client: httpx.Client, project_id: int, fs: FileSpec, source: Path) -> dict[str, Any]:
    boundary = f"bench-{hashlib.sha256(fs.seed.encode()).hexdigest()[:24]}"

    def body() -> Iterator[bytes]:
        if fs.folder:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="folder_path"\r\n\r\n'
                f"{fs.folder}\r\n"
            ).encode()
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{fs.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        with source.open("rb") as handle:
            while piece := handle.read(MiB):
                yield piece
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        f"/api/projects/{project_id}/buckets/{fs.bucket}/files",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    if response.status_code != 201:
        raise RuntimeError(f"upload of {fs.relpath} failed: {response.text[:500]}")
    result: dict[str, Any] = response.json()
    return result


def load_project(
    client: httpx.Client,
    database_url: str,
    spec: DatasetSpec,
    name: str,
    *,
    plain: PlainData | None,
    with_files: bool = True,
    upload_threads: int = 3,
) -> LoadedProject:
    """Create a project through the API and fill it with the dataset: collections and
    buckets through the API, documents into the database, files through uploads (read
    from the plain directory, whose digests they must match)."""

    def ok(response: httpx.Response) -> Any:
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{response.request.url.path}: {response.text[:500]}")
        return response.json()

    project_id = int(ok(client.post("/api/projects", json={"name": name}))["id"])
    collections = {
        c: str(ok(client.post(f"/api/projects/{project_id}/collections", json={"name": c}))["id"])
        for c in COLLECTIONS
    }
    count = insert_documents(database_url, project_id, collections, spec)
    nfiles = nbytes = 0
    if with_files:
        if plain is None:
            raise ValueError("files are uploaded from the plain directory")
        for bucket in BUCKETS:
            ok(client.post(f"/api/projects/{project_id}/buckets", json={"name": bucket}))
        specs = files(spec)

        def one(fs: FileSpec) -> None:
            result = _upload(client, project_id, fs, plain.files_dir / fs.relpath)
            if result["checksum"] != f"sha256:{plain.sha256[fs.relpath]}":
                raise RuntimeError(f"{fs.relpath}: uploaded content differs")

        with ThreadPoolExecutor(upload_threads) as pool:
            for _ in pool.map(one, specs):
                pass
        nfiles = len(specs)
        nbytes = sum(fs.size for fs in specs)
    return LoadedProject(project_id, name, collections, count, nfiles, nbytes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    spec = DatasetSpec.for_scale(args.scale, args.seed)
    plain = write_plain(spec, args.out)
    total = plain.file_bytes + plain.ndjson_bytes
    print(
        f"{spec.documents} documents ({plain.ndjson_bytes / MiB:.1f} MiB NDJSON), "
        f"{spec.small_files} small + {spec.large_files} large files "
        f"({plain.file_bytes / MiB:.1f} MiB): {total / MiB:.1f} MiB in {args.out}"
    )


if __name__ == "__main__":
    main()
