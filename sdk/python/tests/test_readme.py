"""The README's examples run as written against the live server (only the endpoint,
the credentials and the project ids are swapped for this server's)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cloudbox_sdk import CloudBox
from conftest import UserPool

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


@pytest.mark.parametrize("index", [0, 1, 2], ids=["sync", "async", "policies"])
def test_readme_examples_run(
    index: int,
    endpoint: str,
    users: UserPool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _email, token = users.register("Reader")
    with CloudBox(endpoint, token=token) as client:
        first = client.projects.create("README project")
        second = client.projects.create("README target")
    code = _python_blocks()[index]
    code = code.replace("http://127.0.0.1:8080", endpoint)
    code = code.replace('api_key="cbk_..."', f'token="{token}"')
    code = code.replace('token="cbt_..."', f'token="{token}"')
    code = code.replace("project_id=1", f"project_id={first.id}")
    code = code.replace("target_project_id=2", f"target_project_id={second.id}")
    assert "cbk_..." not in code and "cbt_..." not in code
    monkeypatch.chdir(tmp_path)
    (tmp_path / "backups").mkdir()

    exec(compile(code, f"README.md block {index}", "exec"), {"__name__": "readme"})

    output = capsys.readouterr().out
    if index == 0:
        assert "creating" in output
        assert "completed" in output and "sha256:" in output
        assert "404 BACKUP_NOT_FOUND Backup not found" in output
        assert len(list((tmp_path / "backups").iterdir())) == 1
    elif index == 1:
        assert "Backup restore completed successfully" in output
    else:
        assert "would delete 0 backups, 0 bytes" in output
        assert "WEBHOOK_TARGET_FORBIDDEN" in output
