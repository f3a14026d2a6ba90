"""The streaming multipart receiver on its own: any chunking, bounded hand-offs, and a
truncated body never reaching the writer as a complete stream."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping

import anyio
import pytest

from cloudbox.api.uploads import (
    SLICE_SIZE,
    FilePart,
    InvalidUpload,
    Received,
    UploadIncomplete,
    receive_upload,
)

BOUNDARY = "----cloudbox0123456789"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def form(content: bytes, *, folder_first: bool = True, folder: str = "a/b") -> bytes:
    folder_part = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="folder_path"\r\n\r\n{folder}\r\n'
    ).encode()
    file_part = (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="x.bin"\r\n'
            "Content-Type: application/x-thing\r\n\r\n"
        ).encode()
        + content
        + b"\r\n"
    )
    parts = [folder_part, file_part] if folder_first else [file_part, folder_part]
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


def receive(body: bytes, chunk: int) -> tuple[Received[bytes], list[int], list[dict[str, str]]]:
    slices: list[int] = []
    seen_fields: list[dict[str, str]] = []

    def on_file(part: FilePart, fields: Mapping[str, str]) -> None:
        assert part.filename == "x.bin" and part.content_type == "application/x-thing"
        seen_fields.append(dict(fields))

    def store(source: Iterator[bytes]) -> bytes:
        out = bytearray()
        for piece in source:
            slices.append(len(piece))
            out += piece
        return bytes(out)

    async def main() -> Received[bytes]:
        return await receive_upload(
            chunks_of(body, chunk),
            CONTENT_TYPE,
            file_field="file",
            text_fields=frozenset({"folder_path"}),
            on_file=on_file,
            store=store,
        )

    return anyio.run(main), slices, seen_fields


@pytest.mark.parametrize("chunk", [1, 7, 64, 65536])
@pytest.mark.parametrize("folder_first", [True, False])
def test_any_chunking_gives_the_same_form(chunk: int, folder_first: bool) -> None:
    content = os.urandom(3000) + b"\r\n--" + BOUNDARY[:-1].encode() + os.urandom(100)
    received, _slices, seen = receive(form(content, folder_first=folder_first), chunk)
    assert received.stored == content
    assert received.fields == {"folder_path": "a/b"}
    assert seen == [{"folder_path": "a/b"} if folder_first else {}]


def test_hand_offs_are_bounded() -> None:
    content = os.urandom(5 * SLICE_SIZE + 123)
    received, slices, _ = receive(form(content), 65536)
    assert hashlib.sha256(received.stored).digest() == hashlib.sha256(content).digest()
    assert max(slices) < SLICE_SIZE + 65536
    assert len(slices) >= 5


@pytest.mark.parametrize(
    ("origin", "cut"),
    [
        ("start", 10),
        ("start", 150),
        ("start", 2000),
        ("content_end", 0),
        ("content_end", 1),
        ("content_end", 5),
        ("content_end", len(f"\r\n--{BOUNDARY}") - 1),
    ],
)
def test_truncated_body_fails_the_writer(origin: str, cut: int) -> None:
    """Cut anywhere before the file part's closing delimiter is complete."""
    content = os.urandom(4000)
    body = form(content, folder_first=False)
    offset = 0 if origin == "start" else body.index(content) + len(content)
    body = body[: offset + cut]
    outcome: list[str] = []

    def store(source: Iterator[bytes]) -> bytes:
        try:
            data = b"".join(source)
        except UploadIncomplete:
            outcome.append("writer saw the failure")
            raise
        outcome.append("writer finished")  # would store a truncated file
        return data

    async def main() -> None:
        await receive_upload(
            chunks_of(body, 100),
            CONTENT_TYPE,
            file_field="file",
            text_fields=frozenset({"folder_path"}),
            on_file=lambda part, fields: None,
            store=store,
        )

    with pytest.raises(UploadIncomplete):
        anyio.run(main)
    assert "writer finished" not in outcome


def test_refusal_in_on_file_stores_nothing() -> None:
    calls: list[str] = []

    def on_file(part: FilePart, fields: Mapping[str, str]) -> None:
        raise InvalidUpload("no")

    def store(source: Iterator[bytes]) -> bytes:
        calls.append("store")
        return b""

    async def main() -> None:
        await receive_upload(
            chunks_of(form(b"data"), 10),
            CONTENT_TYPE,
            file_field="file",
            text_fields=frozenset({"folder_path"}),
            on_file=on_file,
            store=store,
        )

    with pytest.raises(InvalidUpload):
        anyio.run(main)
    assert calls == []
