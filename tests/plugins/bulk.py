"""Fast loading of large projects for memory tests and benchmarks: documents go straight
into the database (the API would take hours for 200,000), files through the public
upload API so blobs, rows and references are exactly what users create."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, select

import cloudbox.models  # noqa: F401
from cloudbox.db.base import Base
from cloudbox.db.types import utcnow


def insert_documents(
    database_url: str, project_id: int, collection: str, count: int, batch: int = 5000
) -> None:
    documents = Base.metadata.tables["documents"]
    collections = Base.metadata.tables["collections"]
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            collection_id = conn.scalar(
                select(collections.c.id).where(
                    collections.c.project_id == project_id, collections.c.name == collection
                )
            )
            assert collection_id is not None
            now = utcnow()
            for start in range(0, count, batch):
                rows = [
                    {
                        "project_id": project_id,
                        "collection_id": collection_id,
                        "id": f"doc-{n:08d}",
                        "data": {
                            "title": f"Document number {n}",
                            "n": n,
                            "tags": ["alpha", "beta", str(n % 97)],
                            "author": {"name": f"user{n % 1000}", "score": n * 0.5},
                        },
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(start, min(start + batch, count))
                ]
                conn.execute(insert(documents), rows)
    finally:
        engine.dispose()


def random_stream(size: int, seed: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    """`size` pseudo-random bytes, generated chunk by chunk (never held whole)."""
    block = os.urandom(chunk)
    counter = 0
    sent = 0
    while sent < size:
        piece = hashlib.sha256(f"{seed}:{counter}".encode()).digest() + block
        piece = piece[: min(chunk, size - sent)]
        counter += 1
        sent += len(piece)
        yield piece


def upload_streamed(
    client: httpx.Client, url: str, name: str, size: int, seed: int
) -> dict[str, Any]:
    """A multipart upload whose body is generated while it is sent."""
    boundary = f"cloudbox-{seed}"

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        yield from random_stream(size, seed)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        url, content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
