"""Proof that a restored project equals its source: a canonical digest of every restored
table (rows without `project_id`, in primary-key order, JSON decoded and re-encoded with
sorted keys), file checksums as the API lists them, and the content of every blob the
restored files point at, hashed from the blob store.

Differences that are the restore's documented behaviour are left out: the project row
(only its settings are restored, compared separately), audit logs (append-only, marked
imported) and the `is_active`/`key_hash` of credentials copied into another project.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

import cloudbox.models  # noqa: F401  (registers every table)
from bench.common import Api, BenchError
from cloudbox.db.base import Base

#: tables a restore makes identical, and columns that legitimately differ
TABLES: dict[str, frozenset[str]] = {
    "app_auth_settings": frozenset(),
    "app_users": frozenset(),
    "collections": frozenset(),
    "documents": frozenset(),
    "storage_buckets": frozenset(),
    "files": frozenset(),
    "functions": frozenset(),
    "function_domains": frozenset(),
    "ssh_keys": frozenset({"is_active"}),
    "github_repositories": frozenset(),
    "web_servers": frozenset(),
    "deployments": frozenset(),
    "api_keys": frozenset({"is_active", "key_hash", "last_used_at"}),
    "cors_configs": frozenset(),
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def project_digest(engine: Engine, project_id: int) -> dict[str, dict[str, Any]]:
    """Rows and a SHA-256 per table, independent of `project_id`."""
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for name, skip in TABLES.items():
            table = Base.metadata.tables.get(name)
            if table is None:
                continue
            columns = [c for c in table.columns if c.name != "project_id" and c.name not in skip]
            order = [c for c in table.primary_key.columns if c.name != "project_id"]
            query = select(*columns).where(table.c.project_id == project_id).order_by(*order)
            digest = hashlib.sha256()
            rows = 0
            result = conn.execution_options(stream_results=True, yield_per=5000).execute(query)
            for row in result:
                rows += 1
                digest.update(
                    json.dumps([_plain(v) for v in row], sort_keys=True, default=str).encode()
                )
                digest.update(b"\n")
            out[name] = {"rows": rows, "sha256": digest.hexdigest()}
        projects = Base.metadata.tables["projects"]
        settings = conn.scalar(select(projects.c.settings).where(projects.c.id == project_id))
        out["project.settings"] = {
            "rows": 1,
            "sha256": hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest(),
        }
    return out


def api_files(api: Api, project_id: int) -> dict[tuple[str, str, str], tuple[int, str]]:
    """(bucket, folder, name) -> (size, checksum) of every file, through the public API."""
    listing: dict[tuple[str, str, str], tuple[int, str]] = {}
    for bucket in api.get(f"/api/projects/{project_id}/buckets"):
        offset = 0
        while True:
            response = api.client.get(
                f"/api/projects/{project_id}/buckets/{bucket['name']}/files",
                params={"offset": offset, "limit": 1000, "order_by": "name"},
            )
            items = api.check(response, 200)
            for f in items:
                listing[(bucket["name"], f["folder_path"], f["name"])] = (f["size"], f["checksum"])
            if len(items) < 1000:
                break
            offset += len(items)
    return listing


def hash_blobs(blob_root: Path, checksums: set[str]) -> None:
    """Every blob the files point at is in the store and hashes to its name."""
    for checksum in sorted(checksums):
        sha = checksum.removeprefix("sha256:")
        path = blob_root / sha[:2] / sha[2:4] / sha
        digest = hashlib.sha256()
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        except FileNotFoundError:
            raise BenchError(f"blob {sha} of a restored file is missing from the store") from None
        if digest.hexdigest() != sha:
            raise BenchError(f"blob {sha} in the store does not hash to its name")


def check_restored(
    engine: Engine,
    api: Api,
    source_id: int,
    target_id: int,
    *,
    blob_root: Path | None,
    source_digest: dict[str, dict[str, Any]] | None = None,
    source_files: dict[tuple[str, str, str], tuple[int, str]] | None = None,
) -> dict[str, Any]:
    """Raise BenchError unless the target equals the source; returns what was compared."""
    source_digest = source_digest or project_digest(engine, source_id)
    target_digest = project_digest(engine, target_id)
    differ = {
        name: {"source": source_digest[name], "target": target_digest.get(name)}
        for name in source_digest
        if source_digest[name] != target_digest.get(name)
    }
    if differ:
        raise BenchError(f"restored project {target_id} differs from {source_id}: {differ}")
    source_files = source_files if source_files is not None else api_files(api, source_id)
    target_files = api_files(api, target_id)
    if source_files != target_files:
        missing = set(source_files) ^ set(target_files)
        raise BenchError(
            f"restored files differ ({len(source_files)} vs {len(target_files)}; "
            f"e.g. {sorted(missing)[:3]})"
        )
    if blob_root is not None:
        hash_blobs(blob_root, {checksum for _, checksum in target_files.values()})
    return {
        "equal": True,
        "rows": {k: v["rows"] for k, v in target_digest.items() if v["rows"]},
        "files": len(target_files),
        "blobs_hashed": blob_root is not None,
    }
