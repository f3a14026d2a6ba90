"""Builders for valid and deliberately broken archives.

Hostile archives are assembled from raw tar blocks here (not with the
writer, which refuses to produce them), so each test case can break exactly
one rule while everything else stays valid.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from typing import Any

from cloudbox.archive import ArchiveWriter, VerifiedArchive

ZERO_BLOCK = bytes(512)
END = bytes(1024)
USTAR = b"ustar\x0000"
GNU = b"ustar  \x00"
FP = "sha256:test-key"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def header(
    name: str | bytes,
    size: int,
    *,
    typeflag: bytes = b"0",
    size_field: bytes | None = None,
    magic: bytes = USTAR,
    linkname: bytes = b"",
    prefix: bytes = b"",
    checksum: bytes | None = None,
) -> bytes:
    """A ustar header with every field under the test's control."""
    raw_name = name.encode() if isinstance(name, str) else name
    h = bytearray(512)
    h[0 : len(raw_name)] = raw_name
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    if size_field is None:
        size_field = b"%011o\0" % size if size < 8**11 else b"\x80" + size.to_bytes(11, "big")
    assert len(size_field) == 12
    h[124:136] = size_field
    h[136:148] = b"%011o\0" % 1_700_000_000
    h[156:157] = typeflag
    h[157 : 157 + len(linkname)] = linkname
    h[257:265] = magic
    h[345 : 345 + len(prefix)] = prefix
    h[148:156] = b" " * 8
    h[148:156] = checksum if checksum is not None else b"%06o\0 " % sum(h)
    return bytes(h)


def pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % 512)


def member(name: str | bytes, data: bytes, **kwargs: Any) -> bytes:
    return header(name, len(data), **kwargs) + pad(data)


def gz(raw: bytes) -> bytes:
    return gzip.compress(raw, compresslevel=6, mtime=0)


def ndjson(rows: Sequence[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in rows)


def metadata(sections: Sequence[str] = ("project", "documents"), **extra: Any) -> bytes:
    body: dict[str, Any] = {
        "project_id": "p1",
        "project_name": "Demo",
        "created_at": "2024-05-01T12:00:00+00:00",
        "backup_type": "manual",
        "cloudbox_version": "0.1.0",
        "backup_version": "1.0",
        "key_fingerprint": FP,
        "sections": list(sections),
    }
    body.update(extra)
    return json.dumps(body).encode()


def manifest(
    members: Sequence[tuple[str, bytes]],
    /,
    *,
    rows: dict[str, int] | None = None,
    **extra: Any,
) -> bytes:
    """Manifest matching ``members`` exactly (sha, size, rows by newline count)."""
    rows = dict(rows or {})
    entries = []
    sections = {}
    blob_count = 0
    blob_bytes = 0
    for name, data in members:
        entry: dict[str, Any] = {"name": name, "size": len(data), "sha256": sha(data)}
        if name.startswith("data/"):
            section = name[5:-7]
            count = rows.get(section, data.count(b"\n"))
            entry["rows"] = count
            sections[section] = {"rows": count, "member": name}
        elif name.startswith("blobs/"):
            blob_count += 1
            blob_bytes += len(data)
        entries.append(entry)
    body: dict[str, Any] = {
        "backup_version": "1.0",
        "members": entries,
        "sections": sections,
        "blob_count": blob_count,
        "blob_bytes": blob_bytes,
    }
    body.update(extra)
    return json.dumps(body).encode()


BLOB = b"hello blob\n"
PROJECT = ndjson([{"id": "p1", "name": "Demo"}])
DOCUMENTS = ndjson([{"id": 1, "title": "one"}, {"id": 2, "title": "two"}])


def valid_members() -> list[tuple[str, bytes]]:
    return [
        ("metadata.json", metadata()),
        ("data/project.ndjson", PROJECT),
        ("data/documents.ndjson", DOCUMENTS),
        (f"blobs/{sha(BLOB)}", BLOB),
    ]


def raw_tar(
    members: Sequence[tuple[str, bytes]] | None = None,
    *,
    with_manifest: bool = True,
    manifest_bytes: bytes | None = None,
    end: bytes = END,
) -> bytes:
    """Uncompressed tar of ``members`` plus a matching manifest."""
    members = list(valid_members() if members is None else members)
    blocks = [member(name, data) for name, data in members]
    if with_manifest:
        blocks.append(member("manifest.json", manifest_bytes or manifest(members)))
    return b"".join(blocks) + end


def splice(members: Sequence[tuple[str, bytes]], index: int, raw: bytes) -> bytes:
    """Tar with pre-built raw member bytes inserted at ``index`` (manifest over the rest)."""
    blocks = [member(name, data) for name, data in members]
    blocks.insert(index, raw)
    blocks.append(member("manifest.json", manifest(members)))
    return b"".join(blocks) + END


def tarfile_member(
    info: tarfile.TarInfo, data: bytes = b"", fmt: int = tarfile.USTAR_FORMAT
) -> bytes:
    """Raw bytes of one member as Python's tarfile writes it (end blocks removed)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        tf.addfile(info, io.BytesIO(data) if data else None)
    raw = buf.getvalue()
    end = len(raw)
    while raw[end - 512 : end] == ZERO_BLOCK:
        end -= 512
    return raw[:end]


def write_archive(
    out: Any,
    *,
    sections: Mapping[str, Sequence[bytes]],
    blobs: Sequence[bytes] = (),
    threads: int = 2,
    **kwargs: Any,
) -> Any:
    meta = {
        "project_id": "p1",
        "project_name": "Demo",
        "created_at": "2024-05-01T12:00:00+00:00",
        "backup_type": "manual",
        "cloudbox_version": "0.1.0",
    }
    with ArchiveWriter(
        out, metadata=meta, key_fingerprint=FP, sections=list(sections), threads=threads, **kwargs
    ) as writer:
        for name, rows in sections.items():
            writer.write_section(name, rows)
        for blob in blobs:
            if not writer.has_blob(sha(blob)):
                writer.write_blob(
                    sha(blob),
                    len(blob),
                    [blob[i : i + 65536] for i in range(0, len(blob), 65536)] or [b""],
                )
        return writer.close()


def small_archive(blob_sizes: Sequence[int] = (0, 1000, 5000)) -> bytes:
    buf = io.BytesIO()
    blobs = [bytes((i * 7 + n) % 251 for i in range(n)) for n in blob_sizes]
    write_archive(
        buf,
        sections={
            "project": [b'{"id":"p1","name":"Demo"}'],
            "users": [],
            "documents": [
                json.dumps({"id": i, "v": [i, {"k": "x" * i}]}).encode() for i in range(20)
            ],
        },
        blobs=blobs,
    )
    return buf.getvalue()


def content(verified: VerifiedArchive, data: bytes) -> dict[str, Any]:
    """Everything an archive restores, for comparing two reads."""
    from cloudbox.archive import ArchiveReader

    rows: dict[str, list[dict[str, Any]]] = {}
    blobs: dict[str, bytes] = {}
    for m in ArchiveReader(io.BytesIO(data), verified):
        if m.kind == "section":
            assert m.section is not None
            rows[m.section] = list(m.rows())
        elif m.kind == "blob":
            blobs[m.name] = b"".join(m.chunks())
    return {
        "metadata": verified.metadata,
        "manifest": verified.manifest,
        "rows": rows,
        "blobs": blobs,
    }
