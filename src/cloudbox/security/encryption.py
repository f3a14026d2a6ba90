"""AES-256-GCM encryption of secrets at rest under a key derived from MASTER_KEY.

The data key is derived with HKDF-SHA256 (not a passphrase KDF per value: MASTER_KEY is
expected to be high-entropy, and per-value KDFs would make restores of many secrets slow).
Ciphertexts carry a key id so keys can rotate, and the same key id is the master-key
fingerprint written into archives: restoring on a server with another key is refused
before anything is written.

Ciphertext format: ``v1.<key_id>.<base64url(nonce || ciphertext || tag)>``. The purpose
(for example ``ssh_keys.private_key``) is bound as associated data, so a ciphertext cannot
be moved to another column; the project id is deliberately not bound, so a restore into
another project keeps its secrets readable.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


class DecryptionError(Exception):
    """The ciphertext is malformed, was made under another key, or was tampered with."""


def _hkdf(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"cloudbox", info=info).derive(master)


class SecretBox:
    def __init__(self, master_key: bytes) -> None:
        if len(master_key) < 16:
            raise ValueError("MASTER_KEY must be at least 16 bytes long")
        self._aead = AESGCM(_hkdf(master_key, b"cloudbox/secrets/v1"))
        self.key_id = _hkdf(master_key, b"cloudbox/key-id/v1").hex()[:16]

    @property
    def fingerprint(self) -> str:
        return f"hkdf-sha256:{self.key_id}"

    def encrypt(self, plaintext: str | bytes, purpose: str) -> str:
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, data, purpose.encode())
        token = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}.{self.key_id}.{token}"

    def decrypt(self, ciphertext: str, purpose: str) -> bytes:
        try:
            version, key_id, token = ciphertext.split(".", 2)
        except ValueError as exc:
            raise DecryptionError("malformed ciphertext") from exc
        if version != _VERSION:
            raise DecryptionError("unknown ciphertext version")
        if key_id != self.key_id:
            raise DecryptionError("ciphertext was made under another master key")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            return self._aead.decrypt(raw[:12], raw[12:], purpose.encode())
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("ciphertext failed authentication") from exc

    def decrypt_text(self, ciphertext: str, purpose: str) -> str:
        return self.decrypt(ciphertext, purpose).decode()
