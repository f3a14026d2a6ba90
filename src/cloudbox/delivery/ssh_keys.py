"""SSH key material: parsing imported private keys, generating new ones, and describing
them the way OpenSSH does.

Imported keys are normalised to the OpenSSH private-key format before encryption, so
whatever deploys with them later reads one format whatever the user pasted (PKCS#1,
PKCS#8, SEC1 or OpenSSH). Only the key types OpenSSH still accepts are kept.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from cloudbox.delivery.errors import EncryptedSshKey, InvalidSshKey

MAX_PRIVATE_KEY_BYTES = 16 * 1024
#: OpenSSH refuses RSA keys below 1024 bits (RequiredRSASize) and above 16384 bits.
MIN_RSA_BITS = 1024
MAX_RSA_BITS = 16384
_CURVES = {"secp256r1": "nistp256", "secp384r1": "nistp384", "secp521r1": "nistp521"}

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class KeyMaterial:
    """A usable key: the private half in OpenSSH format (to be encrypted) and what may be
    shown about it."""

    private_openssh: str
    public_key: str
    fingerprint: str
    key_type: str


def generate() -> KeyMaterial:
    return describe(ed25519.Ed25519PrivateKey.generate())


def parse(text: str) -> KeyMaterial:
    """Load an unencrypted private key in PEM or OpenSSH form; refuse anything else with
    a reason the user can act on, and never echo the key back."""
    try:
        data = text.strip().encode("ascii")
    except UnicodeEncodeError as exc:
        raise _invalid("the key contains non-ASCII characters") from exc
    if len(data) > MAX_PRIVATE_KEY_BYTES:
        raise _invalid(f"the key is larger than {MAX_PRIVATE_KEY_BYTES} bytes")
    if not data.startswith(b"-----BEGIN "):
        raise _invalid("expected a PEM or OpenSSH private key (-----BEGIN ... PRIVATE KEY-----)")
    key: object
    try:
        if data.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----"):
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:  # cryptography's signal for "password required"
        raise EncryptedSshKey(details={"field": "private_key"}) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _invalid("the key is malformed or of an unsupported type") from exc
    if not isinstance(
        key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    ):
        raise _invalid("unsupported key type; use ed25519, RSA or ECDSA")
    return describe(key)


def describe(key: PrivateKey) -> KeyMaterial:
    key_type = _key_type(key)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return KeyMaterial(
        private_openssh=private.decode("ascii"),
        public_key=public.decode("ascii"),
        fingerprint=fingerprint(public.decode("ascii")),
        key_type=key_type,
    )


def fingerprint(public_key: str) -> str:
    """`SHA256:<base64 without padding>` of the public key blob, as `ssh-keygen -l`."""
    blob = base64.b64decode(public_key.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


def _key_type(key: PrivateKey) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
            raise _invalid(f"RSA keys must have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits")
        return f"rsa-{key.key_size}"
    curve = _CURVES.get(key.curve.name)
    if curve is None:
        raise _invalid("unsupported ECDSA curve; use nistp256, nistp384 or nistp521")
    return f"ecdsa-{curve}"


def _invalid(reason: str) -> InvalidSshKey:
    return InvalidSshKey(
        f"The private key was refused: {reason}",
        details={"field": "private_key", "reason": reason},
    )
