"""String identifiers for project-scoped rows.

Time-ordered (48-bit milliseconds) plus 80 random bits, Crockford base32, 26 characters:
sortable by creation, unguessable, and stable across restores (DESIGN §2.5).
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id() -> str:
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
