from __future__ import annotations

from fastapi.testclient import TestClient

from cloudbox import __version__
from tests.plugins.api import assert_error


def test_health_and_readiness(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}
    ready = client.get("/api/health/ready")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


def test_unknown_route_and_method_use_the_envelope(client: TestClient) -> None:
    assert_error(client.get("/api/does-not-exist"), 404, "NOT_FOUND")
    assert_error(client.delete("/api/health"), 405, "METHOD_NOT_ALLOWED")
