"""Exceptions raised by the blob store.

The blob store is a tool package that must not depend on the rest of CloudBox, so it
keeps its own hierarchy. Every storage failure surfaces as a :class:`BlobStoreError`
subclass, which lets callers translate storage problems into HTTP or CLI errors with a
single ``except`` clause while still telling the interesting cases apart.
"""

from __future__ import annotations


class BlobStoreError(Exception):
    """Base class: anything that went wrong while talking to the storage backend."""


class BlobNotFound(BlobStoreError):
    """The requested blob or object does not exist (or vanished while being opened)."""


class BlobTooLarge(BlobStoreError):
    """The stream exceeded the allowed size; nothing was stored."""


class ChecksumMismatch(BlobStoreError):
    """The stream's SHA-256 differs from the digest the caller promised; nothing was stored."""


class StorageFull(BlobStoreError):
    """The backend is out of space or over quota; nothing was stored."""


class StorageUnavailable(BlobStoreError):
    """The backend cannot be used at all: root not writable, bucket missing, endpoint down."""


class InvalidKey(BlobStoreError):
    """A digest or object key was refused before touching storage.

    Keys come from request data more often than not, so they are validated strictly to
    rule out path traversal and collisions with the store's own housekeeping files.
    """
