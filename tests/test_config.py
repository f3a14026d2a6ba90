from __future__ import annotations

from pathlib import Path

import pytest

from cloudbox.config import ConfigError, Settings


def test_spec_environment_names_are_honoured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.setenv("MASTER_KEY", "from-the-environment-0123456789")
    monkeypatch.setenv("CLOUDBOX_PORT", "9999")
    monkeypatch.setenv("CLOUDBOX_DATABASE_URL", "postgresql://u@h/db")
    settings = Settings()
    assert settings.resolved_backup_dir == tmp_path / "backups"
    assert settings.master_key_bytes() == b"from-the-environment-0123456789"
    assert settings.port == 9999
    assert settings.resolved_database_url == "postgresql+psycopg://u@h/db"


def test_development_generates_a_master_key_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MASTER_KEY", raising=False)
    settings = Settings(data_dir=tmp_path)
    first = settings.master_key_bytes()
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600
    assert Settings(data_dir=tmp_path).master_key_bytes() == first


def test_production_refuses_to_start_without_master_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MASTER_KEY", raising=False)
    with pytest.raises(ConfigError, match="MASTER_KEY"):
        Settings(env="production", data_dir=tmp_path).master_key_bytes()
    assert not (tmp_path / "master.key").exists()


def test_defaults(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.host == "127.0.0.1" and settings.port == 8080
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_backup_dir == tmp_path / "backups"
