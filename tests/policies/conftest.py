"""Policy tests drive the scheduler themselves (an injected clock, explicit ticks), so
the once-a-minute periodic tick is off; 127.0.0.1 is allowed as a webhook target for
the receivers the tests start."""

from __future__ import annotations

import pytest

from cloudbox.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "policy_scheduler": False,
            "webhook_allowed_hosts": ("127.0.0.1",),
            "webhook_retry_base_seconds": 0.2,
        }
    )
