"""Names, folder paths and MIME types of files: the rules, in one place.

File names and folder paths end up in `Content-Disposition` headers, in clients' file
systems when they download, and in archives; so they are plain relative POSIX names with
no separators, traversal segments or control characters.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_LENGTH = 255
MAX_FOLDER_PATH_LENGTH = 1024
DEFAULT_MIME_TYPE = "application/octet-stream"

_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_MIME = re.compile(rf"{_TOKEN}/{_TOKEN}")


def _has_control(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def check_file_name(value: str) -> str:
    """Refuse (rather than repair) a name given explicitly, e.g. in a rename."""
    if not value or len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"must be 1 to {MAX_NAME_LENGTH} characters")
    if "/" in value or "\\" in value:
        raise ValueError("must not contain '/' or '\\'")
    if _has_control(value):
        raise ValueError("must not contain control characters")
    if value in (".", ".."):
        raise ValueError("must not be '.' or '..'")
    return value


def sanitize_upload_name(raw: str) -> str:
    """Repair the filename a client sent with an upload.

    Browsers and tools send anything from ``photo.jpg`` to ``C:\\Users\\me\\photo.jpg``;
    keep the last path component, drop control characters, and shorten over-long names
    while keeping their extension. Raises ``ValueError`` if nothing usable is left.
    """
    name = re.split(r"[/\\]", raw)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cc").strip()
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and len(ext) < 32:
            name = stem[: MAX_NAME_LENGTH - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_NAME_LENGTH]
    if name in ("", ".", ".."):
        raise ValueError("the upload's filename is empty or not a usable name")
    return name


def check_folder_path(value: str) -> str:
    """A relative POSIX folder path (``""`` is the bucket's root); one trailing slash is
    tolerated and dropped so ``docs/`` and ``docs`` name the same folder."""
    if len(value) > MAX_FOLDER_PATH_LENGTH:
        raise ValueError(f"must be at most {MAX_FOLDER_PATH_LENGTH} characters")
    if value.endswith("/"):
        value = value[:-1]
    if not value:
        return ""
    if value.startswith("/"):
        raise ValueError("must be relative (no leading '/')")
    if "\\" in value:
        raise ValueError("must use '/' as the separator")
    if _has_control(value):
        raise ValueError("must not contain control characters")
    for segment in value.split("/"):
        if not segment:
            raise ValueError("must not contain empty segments ('//')")
        if segment in (".", ".."):
            raise ValueError("must not contain '.' or '..' segments")
        if len(segment) > MAX_NAME_LENGTH:
            raise ValueError(f"segments must be at most {MAX_NAME_LENGTH} characters")
    return value


def normalize_mime_type(header_value: str | None) -> str:
    """The essence (``type/subtype``, lowercased) of a part's Content-Type; parameters are
    dropped. A missing header means "some bytes" (RFC 7578 §4.4)."""
    if header_value is None or not header_value.strip():
        return DEFAULT_MIME_TYPE
    essence = header_value.split(";", 1)[0].strip().lower()
    if not _MIME.fullmatch(essence):
        raise ValueError("the file part's Content-Type is not a valid MIME type")
    return essence


def type_allowed(mime_type: str, allowed: list[str]) -> bool:
    """Whether ``mime_type`` matches the bucket's list (exact, ``type/*`` or ``*/*``);
    an empty list allows everything."""
    if not allowed:
        return True
    major = mime_type.split("/", 1)[0]
    return any(pattern in ("*/*", mime_type) or pattern == f"{major}/*" for pattern in allowed)
