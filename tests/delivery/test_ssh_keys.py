from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x25519
from sqlalchemy import select

from cloudbox.delivery.models import SshKey
from cloudbox.runtime import Runtime
from tests.delivery.helpers import assert_absent, counts, row_values, ssh_key, web_server
from tests.plugins.api import Account, assert_error

SSH_KEYGEN = shutil.which("ssh-keygen")


@dataclass(frozen=True)
class SampleKey:
    private: str
    public: str  # "type base64", no comment
    fingerprint: str
    key_type: str


def _independent_fingerprint(public_line: str) -> str:
    """What ssh-keygen prints, computed here without the code under test."""
    blob = base64.b64decode(public_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _keygen_fingerprint(public_line: str, tmp: Path) -> str:
    """`ssh-keygen -lf` when available (the reference), else the independent computation."""
    if SSH_KEYGEN is None:
        return _independent_fingerprint(public_line)
    path = tmp / "fp.pub"
    path.write_text(public_line + "\n")
    out = subprocess.run(
        [SSH_KEYGEN, "-lf", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return out.split()[1]


def _with_keygen(tmp: Path, name: str, args: list[str], key_type: str) -> SampleKey:
    path = tmp / name
    assert SSH_KEYGEN is not None
    subprocess.run(
        [SSH_KEYGEN, "-q", *args, "-N", "", "-C", "sample", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    public = " ".join(path.with_suffix(".pub").read_text().split()[:2])
    return SampleKey(path.read_text(), public, _keygen_fingerprint(public, tmp), key_type)


def _with_cryptography(
    tmp: Path, key: Any, fmt: serialization.PrivateFormat, key_type: str
) -> SampleKey:
    private = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return SampleKey(private.decode(), public, _keygen_fingerprint(public, tmp), key_type)


@pytest.fixture(scope="session")
def sample_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SampleKey]:
    tmp = tmp_path_factory.mktemp("ssh-keys")
    if SSH_KEYGEN is not None:
        return {
            "rsa-pem": _with_keygen(
                tmp, "rsa", ["-t", "rsa", "-b", "2048", "-m", "PEM"], "rsa-2048"
            ),
            "rsa-pkcs8": _with_keygen(
                tmp, "rsa8", ["-t", "rsa", "-b", "1024", "-m", "PKCS8"], "rsa-1024"
            ),
            "ed25519-openssh": _with_keygen(tmp, "ed", ["-t", "ed25519"], "ed25519"),
            "ecdsa-openssh": _with_keygen(
                tmp, "ec384", ["-t", "ecdsa", "-b", "384"], "ecdsa-nistp384"
            ),
            "ecdsa-pem": _with_keygen(
                tmp, "ec256", ["-t", "ecdsa", "-b", "256", "-m", "PEM"], "ecdsa-nistp256"
            ),
        }
    tl = serialization.PrivateFormat.TraditionalOpenSSL
    return {
        "rsa-pem": _with_cryptography(tmp, rsa.generate_private_key(65537, 2048), tl, "rsa-2048"),
        "rsa-pkcs8": _with_cryptography(
            tmp,
            rsa.generate_private_key(65537, 1024),
            serialization.PrivateFormat.PKCS8,
            "rsa-1024",
        ),
        "ed25519-openssh": _with_cryptography(
            tmp,
            ed25519.Ed25519PrivateKey.generate(),
            serialization.PrivateFormat.OpenSSH,
            "ed25519",
        ),
        "ecdsa-openssh": _with_cryptography(
            tmp,
            ec.generate_private_key(ec.SECP384R1()),
            serialization.PrivateFormat.OpenSSH,
            "ecdsa-nistp384",
        ),
        "ecdsa-pem": _with_cryptography(
            tmp, ec.generate_private_key(ec.SECP256R1()), tl, "ecdsa-nistp256"
        ),
    }


def _encrypted_openssh(tmp: Path) -> str | None:
    """cryptography writes encrypted OpenSSH keys only with the optional bcrypt module;
    ssh-keygen always can."""
    if SSH_KEYGEN is None:
        return None
    path = tmp / "encrypted"
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "correct horse", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.read_text()


@pytest.fixture(scope="session")
def refused_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, str]]:
    """Keys that must be refused: name -> (text, expected error code)."""
    pem, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    secret = serialization.BestAvailableEncryption(b"correct horse")
    ed = ed25519.Ed25519PrivateKey.generate()
    rsa_key = rsa.generate_private_key(65537, 1024)
    valid_ed = ed.private_bytes(pem, serialization.PrivateFormat.OpenSSH, none).decode()
    encrypted = _encrypted_openssh(tmp_path_factory.mktemp("encrypted-key"))
    extra = {} if encrypted is None else {"encrypted openssh": (encrypted, "SSH_KEY_ENCRYPTED")}
    return {
        **extra,
        "encrypted pkcs8": (
            rsa_key.private_bytes(pem, pkcs8, secret).decode(),
            "SSH_KEY_ENCRYPTED",
        ),
        "encrypted legacy pem": (
            rsa_key.private_bytes(
                pem, serialization.PrivateFormat.TraditionalOpenSSL, secret
            ).decode(),
            "SSH_KEY_ENCRYPTED",
        ),
        "dsa": (
            dsa.generate_private_key(1024).private_bytes(pem, pkcs8, none).decode(),
            "INVALID_SSH_KEY",
        ),
        "ed448": (
            ed448.Ed448PrivateKey.generate().private_bytes(pem, pkcs8, none).decode(),
            "INVALID_SSH_KEY",
        ),
        "x25519": (
            x25519.X25519PrivateKey.generate().private_bytes(pem, pkcs8, none).decode(),
            "INVALID_SSH_KEY",
        ),
        "secp256k1": (
            ec.generate_private_key(ec.SECP256K1()).private_bytes(pem, pkcs8, none).decode(),
            "INVALID_SSH_KEY",
        ),
        "truncated": (valid_ed[: len(valid_ed) // 2], "INVALID_SSH_KEY"),
        "corrupted": (
            valid_ed.replace("b3BlbnNzaC1rZXkt", "c3BlbnNzaC1rZXkt"),
            "INVALID_SSH_KEY",
        ),
        "public key": (
            ed.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode(),
            "INVALID_SSH_KEY",
        ),
        "garbage pem": (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "INVALID_SSH_KEY",
        ),
        "not a key": ("hello", "INVALID_SSH_KEY"),
        "non-ascii": (
            "-----BEGIN PRIVATE KEY-----\né\n-----END PRIVATE KEY-----",
            "INVALID_SSH_KEY",
        ),
    }


def _stored(runtime: Runtime, pid: int, key_id: str) -> SshKey:
    with runtime.db.session() as db:
        row = db.scalar(select(SshKey).where(SshKey.project_id == pid, SshKey.id == key_id))
    assert row is not None
    return row


def _public_from_private(private_openssh: str, tmp: Path) -> str:
    """The public key ssh-keygen derives from a stored private key (the reference), or
    cryptography's derivation without ssh-keygen."""
    if SSH_KEYGEN is None:
        key = serialization.load_ssh_private_key(private_openssh.encode(), None)
        return (
            key.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
        )
    path = tmp / "stored"
    path.write_text(private_openssh)
    os.chmod(path, 0o600)
    out = subprocess.run(
        [SSH_KEYGEN, "-y", "-f", str(path)], check=True, capture_output=True, text=True
    ).stdout
    return " ".join(out.split()[:2])


def test_imported_keys_are_described_like_ssh_keygen_and_stored_encrypted(
    account: Account,
    project: dict[str, Any],
    runtime: Runtime,
    sample_keys: dict[str, SampleKey],
    tmp_path: Path,
) -> None:
    for kind, sample in sample_keys.items():
        _check_import(account, project["id"], runtime, kind, sample, tmp_path)


def _check_import(
    account: Account, pid: int, runtime: Runtime, kind: str, sample: SampleKey, tmp_path: Path
) -> None:
    response = account.post(
        f"/api/projects/{pid}/ssh-keys",
        json={"name": kind, "description": "imported", "private_key": sample.private},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "project_id",
        "name",
        "description",
        "public_key",
        "fingerprint",
        "key_type",
        "is_active",
        "created_at",
        "updated_at",
    }
    assert body["public_key"] == sample.public
    assert body["fingerprint"] == sample.fingerprint
    assert body["fingerprint"] == _independent_fingerprint(body["public_key"])
    assert body["key_type"] == sample.key_type
    assert body["is_active"] is True and body["description"] == "imported"

    # never in a response
    for text in (
        response.text,
        account.get(f"/api/projects/{pid}/ssh-keys/{body['id']}").text,
        account.get(f"/api/projects/{pid}/ssh-keys").text,
        account.patch(
            f"/api/projects/{pid}/ssh-keys/{body['id']}", json={"name": f"{kind}-renamed"}
        ).text,
    ):
        assert_absent(text, sample.private, public=sample.public)

    # encrypted at rest, and the ciphertext decrypts to the same key
    for values in row_values(runtime, SshKey):
        assert_absent(repr(values), sample.private, public=sample.public)
    row = _stored(runtime, pid, body["id"])
    stored = runtime.secrets.decrypt_text(row.private_key_encrypted, "ssh_keys.private_key")
    assert stored.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert _public_from_private(stored, tmp_path) == sample.public
    loaded = serialization.load_ssh_private_key(stored.encode(), None)
    original = (
        serialization.load_ssh_private_key(sample.private.encode(), None)
        if "OPENSSH" in sample.private
        else serialization.load_pem_private_key(sample.private.encode(), None)
    )
    raw = serialization.Encoding.DER, serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    assert loaded.private_bytes(*raw, none) == original.private_bytes(*raw, none)


def test_generated_key_is_ed25519_and_usable(
    account: Account, project: dict[str, Any], runtime: Runtime, tmp_path: Path
) -> None:
    pid = project["id"]
    body = ssh_key(account, pid, "generated", generate=True)
    assert body["key_type"] == "ed25519"
    assert body["public_key"].startswith("ssh-ed25519 ")
    row = _stored(runtime, pid, body["id"])
    stored = runtime.secrets.decrypt_text(row.private_key_encrypted, "ssh_keys.private_key")
    assert "PRIVATE KEY" not in row.private_key_encrypted
    assert _public_from_private(stored, tmp_path) == body["public_key"]
    assert body["fingerprint"] == _keygen_fingerprint(body["public_key"], tmp_path)
    # the ciphertext is bound to its purpose
    with pytest.raises(Exception, match="authentication"):
        runtime.secrets.decrypt_text(row.private_key_encrypted, "github_repositories.access_token")
    # nothing of the private key in any response
    assert_absent(
        account.get(f"/api/projects/{pid}/ssh-keys").text, stored, public=body["public_key"]
    )
    # two generations give two keys
    other = ssh_key(account, pid, "generated-2")
    assert other["fingerprint"] != body["fingerprint"]


def test_crud_paging_and_order(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/ssh-keys"
    created = [ssh_key(account, pid, name) for name in ("charlie", "alpha", "bravo")]

    listed = account.get(url)
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "3"
    assert [k["id"] for k in listed.json()] == [k["id"] for k in created]
    page = account.get(url, params={"limit": 1, "offset": 1, "order_by": "name"})
    assert page.headers["X-Total-Count"] == "3"
    assert [k["name"] for k in page.json()] == ["bravo"]
    assert [k["name"] for k in account.get(url, params={"order_by": "-name"}).json()] == [
        "charlie",
        "bravo",
        "alpha",
    ]
    assert_error(
        account.get(url, params={"order_by": "private_key_encrypted"}), 422, "VALIDATION_ERROR"
    )

    key_id = created[0]["id"]
    assert account.get(f"{url}/{key_id}").json() == created[0]
    patched = account.patch(
        f"{url}/{key_id}", json={"name": "delta", "description": "d", "is_active": False}
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["name"], body["description"], body["is_active"]) == ("delta", "d", False)
    assert body["public_key"] == created[0]["public_key"]
    assert body["updated_at"] >= created[0]["updated_at"]
    assert account.patch(f"{url}/{key_id}", json={}).json()["name"] == "delta"

    assert account.delete(f"{url}/{key_id}").status_code == 204
    assert_error(account.get(f"{url}/{key_id}"), 404, "SSH_KEY_NOT_FOUND")
    assert_error(account.delete(f"{url}/{key_id}"), 404, "SSH_KEY_NOT_FOUND")
    assert_error(account.patch(f"{url}/{key_id}", json={"name": "x"}), 404, "SSH_KEY_NOT_FOUND")
    assert account.get(url).headers["X-Total-Count"] == "2"


def test_unique_names_and_project_isolation(account: Account, project: dict[str, Any]) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/ssh-keys"
    first = ssh_key(account, pid, "deploy")
    second = ssh_key(account, pid, "other")
    assert_error(
        account.post(url, json={"name": "deploy", "generate": True}), 409, "SSH_KEY_EXISTS"
    )
    assert_error(
        account.patch(f"{url}/{second['id']}", json={"name": "deploy"}), 409, "SSH_KEY_EXISTS"
    )
    # renaming to its own name is fine, and another project may use the name
    assert account.patch(f"{url}/{first['id']}", json={"name": "deploy"}).status_code == 200
    other = account.create_project("Other")
    ssh_key(account, other["id"], "deploy")

    foreign = ssh_key(account, other["id"], "foreign")
    url = f"/api/projects/{pid}/ssh-keys/{foreign['id']}"
    assert_error(account.get(url), 404, "SSH_KEY_NOT_FOUND")
    assert_error(account.patch(url, json={"name": "mine"}), 404, "SSH_KEY_NOT_FOUND")
    assert_error(account.delete(url), 404, "SSH_KEY_NOT_FOUND")
    assert [k["name"] for k in account.get(f"/api/projects/{pid}/ssh-keys").json()] == [
        "deploy",
        "other",
    ]
    assert account.get(f"/api/projects/{other['id']}/ssh-keys/{foreign['id']}").json() == foreign


def test_invalid_and_encrypted_keys_are_refused_with_nothing_written(
    account: Account,
    project: dict[str, Any],
    runtime: Runtime,
    refused_keys: dict[str, tuple[str, str]],
    sample_keys: dict[str, SampleKey],
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/ssh-keys"
    existing = ssh_key(account, pid, "existing")
    before = counts(runtime)
    for case, (text, code) in refused_keys.items():
        response = account.post(url, json={"name": case, "private_key": text})
        body = assert_error(response, 422, code)
        assert body["error"]["details"].get("field") == "private_key", case
        if len(text) > 40:
            assert_absent(response.text, text)
    valid = sample_keys["ed25519-openssh"].private
    bad_bodies: list[Any] = [
        {"name": "both", "private_key": valid, "generate": True},
        {"name": "neither"},
        {"name": "no-source", "generate": False},
        {"name": "empty", "private_key": ""},
        {"name": "too-big", "private_key": valid + " " * (16 * 1024)},
        {"name": "", "generate": True},
        {"name": "n" * 201, "generate": True},
        {"name": "x", "generate": True, "description": "d" * 5001},
        {"name": "x", "generate": True, "is_active": False},
        {"name": "x", "generate": True, "public_key": "ssh-ed25519 AAAA"},
        {"name": "x", "generate": "yes please"},
        {"name": "x", "private_key": 5},
        [],
    ]
    for bad in bad_bodies:
        response = account.post(url, json=bad)
        assert_error(response, 422, "VALIDATION_ERROR")
        assert_absent(response.text, valid)
    key_url = f"{url}/{existing['id']}"
    for bad_patch in (
        {"private_key": valid},
        {"public_key": "x"},
        {"name": None},
        {"is_active": None},
        {"name": ""},
        {"fingerprint": "SHA256:x"},
    ):
        assert_error(account.patch(key_url, json=bad_patch), 422, "VALIDATION_ERROR")
    assert counts(runtime) == before
    assert account.get(key_url).json() == existing


def test_key_in_use_cannot_be_deleted(
    account: Account, project: dict[str, Any], runtime: Runtime
) -> None:
    pid = project["id"]
    url = f"/api/projects/{pid}/ssh-keys"
    key = ssh_key(account, pid)
    server = web_server(account, pid, ssh_key_id=key["id"])
    repo = account.post(
        f"/api/projects/{pid}/github-repositories",
        json={
            "name": "app",
            "full_name": "o/app",
            "clone_url": "git@github.com:o/app.git",
            "ssh_key_id": key["id"],
        },
    ).json()
    body = assert_error(account.delete(f"{url}/{key['id']}"), 409, "SSH_KEY_IN_USE")
    assert body["error"]["details"] == {
        "github_repository_ids": [repo["id"]],
        "web_server_ids": [server["id"]],
    }
    account.patch(f"/api/projects/{pid}/web-servers/{server['id']}", json={"ssh_key_id": None})
    assert_error(account.delete(f"{url}/{key['id']}"), 409, "SSH_KEY_IN_USE")
    detached = account.patch(
        f"/api/projects/{pid}/github-repositories/{repo['id']}", json={"ssh_key_id": None}
    )
    assert detached.json()["ssh_key_id"] is None
    assert account.delete(f"{url}/{key['id']}").status_code == 204
    assert counts(runtime)["ssh_keys"] == 0
