"""A streaming multipart/form-data receiver that hands the file part straight to a
synchronous writer, with bounded memory.

Starlette's form parsing (`UploadFile`) spools every file into a temporary file before the
route runs: a 2 GiB upload would be written twice and the route could not refuse it early.
Here the body is parsed as it arrives with `python_multipart`'s push parser, and the file
part's bytes are pulled by the blob store's `put_stream` running in a worker thread: each
time it wants more, the thread asks the event loop (`anyio.from_thread.run`) for the next
slice, which reads just enough of the request to produce it. Nothing is queued beyond one
slice (~1 MiB) plus the parser's current input chunk, whatever the size of the upload.

The receiver knows nothing of buckets: the caller decides, from the file part's headers and
the fields seen before it, whether to accept the part (`on_file`, which raises to refuse)
and how to store it (`store`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

import anyio.from_thread
import anyio.to_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from cloudbox.errors import AppError, InvalidInput

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

T = TypeVar("T")


class InvalidUpload(InvalidInput):
    """A malformed or incomplete multipart body (422 VALIDATION_ERROR, like any bad input)."""

    message = "The upload is not a valid multipart/form-data body"


class UploadIncomplete(AppError):
    code = "UPLOAD_INCOMPLETE"
    status = 400
    message = "The upload ended before the whole body arrived"


class RequestBody:
    """A request body as chunks; a client that goes away ends it as UploadIncomplete."""

    def __init__(self, request: Request) -> None:
        self._stream = request.stream()

    def __aiter__(self) -> RequestBody:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._stream.__anext__()
        except ClientDisconnect as exc:
            raise UploadIncomplete() from exc

    async def aclose(self) -> None:
        await self._stream.aclose()

    def pull(self) -> Iterator[bytes]:
        """Runs in a worker thread: pulls the next chunk from the event loop on demand, so
        a synchronous writer consumes the body with one chunk in flight."""

        async def next_chunk() -> bytes | None:
            try:
                return await self.__anext__()
            except StopAsyncIteration:
                return None

        while (chunk := anyio.from_thread.run(next_chunk)) is not None:
            if chunk:
                yield chunk


#: How many bytes the writer receives per hand-off between the event loop and its thread.
SLICE_SIZE = 1024 * 1024
#: Text fields are small (a folder path); anything larger is refused.
MAX_FIELD_BYTES = 4096
MAX_PARTS = 16

_PART_BEGIN, _HEADERS_DONE, _DATA, _PART_END, _END, _EOF = range(6)


@dataclass(frozen=True)
class FilePart:
    field: str
    filename: str
    content_type: str | None


@dataclass(frozen=True)
class Received(Generic[T]):
    """The stored file (whatever `store` returned) and the text fields of the form."""

    file_part: FilePart
    stored: T
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Event:
    kind: int
    data: bytes = b""
    headers: Mapping[str, str] | None = None


class _Reader:
    """Turns the body into parser events, reading the body only when asked for more.

    The parser calls back synchronously while it digests one input chunk, which may hold
    the end of one part and the headers of the next; so headers travel inside their
    event instead of being kept in shared state.
    """

    def __init__(self, body: AsyncIterable[bytes], boundary: bytes) -> None:
        self._body: AsyncIterator[bytes] = body.__aiter__()
        self._events: deque[_Event] = deque()
        self._exhausted = False
        self._headers: dict[str, str] = {}
        self._header_field = bytearray()
        self._header_value = bytearray()
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": lambda: self._events.append(_Event(_PART_END)),
            "on_end": lambda: self._events.append(_Event(_END)),
        }
        try:
            self._parser = MultipartParser(boundary, callbacks)
        except (ValueError, MultipartParseError) as exc:
            raise InvalidUpload("The multipart boundary is invalid") from exc

    def _on_part_begin(self) -> None:
        self._headers = {}
        self._events.append(_Event(_PART_BEGIN))

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._header_field.decode("latin-1").strip().lower()
        self._headers[name] = self._header_value.decode("latin-1").strip()
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        self._events.append(_Event(_HEADERS_DONE, headers=self._headers))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self._events.append(_Event(_DATA, bytes(data[start:end])))

    async def next_event(self) -> _Event:
        while not self._events:
            if self._exhausted:
                return _Event(_EOF)
            try:
                chunk = await self._body.__anext__()
            except StopAsyncIteration:
                self._exhausted = True
                continue
            if chunk:
                try:
                    self._parser.write(chunk)
                except MultipartParseError as exc:
                    raise InvalidUpload() from exc
        return self._events.popleft()

    def push_back(self, event: _Event) -> None:
        self._events.appendleft(event)

    async def next_slice(self) -> bytes | None:
        """Up to about SLICE_SIZE bytes of the current part; None once it has ended."""
        pieces: list[bytes] = []
        size = 0
        while size < SLICE_SIZE:
            event = await self.next_event()
            if event.kind == _DATA:
                pieces.append(event.data)
                size += len(event.data)
                continue
            if event.kind == _PART_END:
                if pieces:
                    self.push_back(event)
                    break
                return None
            # The body ended (or the parser says the form ended) inside the part: the
            # writer must fail, or a truncated upload would be stored as complete.
            raise UploadIncomplete()
        return b"".join(pieces)

    async def read_field(self, limit: int) -> bytes:
        value = bytearray()
        while True:
            event = await self.next_event()
            if event.kind == _DATA:
                value += event.data
                if len(value) > limit:
                    raise InvalidUpload(f"A form field is longer than {limit} bytes")
            elif event.kind == _PART_END:
                return bytes(value)
            else:
                raise UploadIncomplete()


def boundary_of(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidUpload("The request must be multipart/form-data with a boundary")
    return boundary


async def receive_upload(
    body: AsyncIterable[bytes],
    content_type: str | None,
    *,
    file_field: str,
    text_fields: frozenset[str],
    on_file: Callable[[FilePart, Mapping[str, str]], None],
    store: Callable[[Iterator[bytes]], T],
) -> Received[T]:
    """Parse the whole form; store the one file part as it streams.

    ``on_file`` sees the file part's headers and the text fields received before it and
    raises to refuse the upload before anything is stored. ``store`` runs in a worker
    thread and consumes the part's bytes; if the body ends early, its iterator raises
    :class:`UploadIncomplete` instead of ending, so nothing truncated is ever stored.
    """
    reader = _Reader(body, boundary_of(content_type))
    fields: dict[str, str] = {}
    received: tuple[FilePart, T] | None = None
    parts = 0
    while True:
        event = await reader.next_event()
        kind = event.kind
        if kind == _EOF:
            raise UploadIncomplete()
        if kind == _END:
            break
        if kind == _PART_BEGIN:
            parts += 1
            if parts > MAX_PARTS:
                raise InvalidUpload(f"The form has more than {MAX_PARTS} parts")
        elif kind == _HEADERS_DONE:
            headers = event.headers or {}
            disposition, options = parse_options_header(headers.get("content-disposition", ""))
            name = options.get(b"name")
            if disposition != b"form-data" or name is None:
                raise InvalidUpload("Every part needs a form-data Content-Disposition")
            field = name.decode("utf-8", "replace")
            if field == file_field:
                filename = options.get(b"filename")
                if filename is None:
                    raise InvalidUpload(
                        f"The {file_field!r} field must be a file", details={"field": file_field}
                    )
                if received is not None:
                    raise InvalidUpload("Only one file per request", details={"field": field})
                part = FilePart(
                    field=field,
                    filename=filename.decode("utf-8", "replace"),
                    content_type=headers.get("content-type"),
                )
                on_file(part, fields)
                stored = await anyio.to_thread.run_sync(store, _pull_slices(reader))
                received = (part, stored)
            elif field in text_fields:
                if field in fields:
                    raise InvalidUpload("A form field was sent twice", details={"field": field})
                raw = await reader.read_field(MAX_FIELD_BYTES)
                try:
                    fields[field] = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InvalidUpload(
                        "Form fields must be UTF-8 text", details={"field": field}
                    ) from exc
            else:
                raise InvalidUpload("Unexpected form field", details={"field": field})
        # Part data is consumed by the handlers above and _PART_END needs no action.
    if received is None:
        raise InvalidUpload(
            f"The form has no {file_field!r} file field", details={"field": file_field}
        )
    return Received(file_part=received[0], stored=received[1], fields=fields)


def _pull_slices(reader: _Reader) -> Iterator[bytes]:
    """Runs in the worker thread: each item is fetched by the event loop on demand."""
    while True:
        piece = anyio.from_thread.run(reader.next_slice)
        if piece is None:
            return
        yield piece
