from __future__ import annotations

import pytest

from cloudbox.security.encryption import DecryptionError, SecretBox
from cloudbox.security.passwords import hash_password, verify_password
from cloudbox.security.tokens import digest_secret, new_secret


def test_round_trip_and_binding() -> None:
    box = SecretBox(b"a" * 32)
    token = box.encrypt("private key material", "ssh_keys.private_key")
    assert "private key material" not in token
    assert token.startswith(f"v1.{box.key_id}.")
    assert box.decrypt_text(token, "ssh_keys.private_key") == "private key material"
    with pytest.raises(DecryptionError):
        box.decrypt(token, "functions.secrets")  # bound to its purpose


def test_nonces_differ_and_other_keys_fail() -> None:
    box, other = SecretBox(b"a" * 32), SecretBox(b"b" * 32)
    assert box.encrypt("x", "p") != box.encrypt("x", "p")
    assert box.fingerprint != other.fingerprint
    with pytest.raises(DecryptionError):
        other.decrypt(box.encrypt("x", "p"), "p")


@pytest.mark.parametrize("garbage", ["", "v1", "v2.abc.def", "v1.{kid}.!!!", "v1.{kid}.AAAA"])
def test_malformed_ciphertexts(garbage: str) -> None:
    box = SecretBox(b"a" * 32)
    with pytest.raises(DecryptionError):
        box.decrypt(garbage.format(kid=box.key_id), "p")


def test_tampering_is_detected() -> None:
    box = SecretBox(b"a" * 32)
    token = box.encrypt("value", "p")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(DecryptionError):
        box.decrypt(flipped, "p")


def test_short_master_key_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        SecretBox(b"short")


def test_passwords_and_digests() -> None:
    hashed = hash_password("hunter22")
    assert verify_password(hashed, "hunter22")
    assert not verify_password(hashed, "hunter23")
    assert not verify_password(None, "hunter22")
    assert not verify_password("not-a-hash", "hunter22")
    secret = new_secret("cbk_")
    assert digest_secret(secret) != secret and len(digest_secret(secret)) == 64
