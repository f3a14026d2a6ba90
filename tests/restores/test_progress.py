"""Progress reporting while a restore's apply holds its transaction.

On SQLite the apply holds the database's only write lock until it commits: the job's
reporter pauses instead of issuing flushes that could only wait out the busy timeout and
fail with an error logged every interval. On PostgreSQL nothing blocks them, and they go
on (which also proves the spy below sees the reporter's statements).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import event

from cloudbox.restores import restorer
from cloudbox.runtime import Runtime
from tests.plugins.api import Account
from tests.restores.test_faults import restore, scenario


def test_the_reporter_pauses_while_a_sqlite_apply_holds_the_write_lock(
    account: Account, project: dict[str, Any], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = scenario(account, runtime, project["id"])
    in_apply = threading.Event()
    during_apply: list[str] = []
    real_apply = restorer.apply

    def slow_apply(*args: Any, **kwargs: Any) -> Any:
        in_apply.set()
        try:
            inserted = real_apply(*args, **kwargs)
            # several progress intervals (0.05 s in the test settings) inside the transaction
            time.sleep(0.4)
            return inserted
        finally:
            in_apply.clear()

    def spy(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if in_apply.is_set() and threading.current_thread().name == "job-reporter":
            during_apply.append(statement)

    monkeypatch.setattr(restorer, "apply", slow_apply)
    event.listen(runtime.db.engine, "before_cursor_execute", spy)
    try:
        response = restore(s, pre_restore_backup=False)
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", spy)
    assert response.status_code == 200, response.text
    assert response.json()["restore"]["status"] == "completed"
    if runtime.db.is_sqlite:
        assert during_apply == []
    else:
        assert any("UPDATE restores" in statement for statement in during_apply)
