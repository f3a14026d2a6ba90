"""Opaque bearer tokens and API keys: random, shown once, stored as SHA-256 digests.

A 256-bit random secret needs no slow hash: the digest cannot be brute-forced, and a
plain digest lets the server find the row by an indexed equality lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SESSION_TOKEN_PREFIX = "cbt_"
API_KEY_PREFIX = "cbk_"
APP_TOKEN_PREFIX = "cbu_"


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
