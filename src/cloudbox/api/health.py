from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from cloudbox import __version__
from cloudbox.api.deps import RuntimeDep

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/health/ready", responses={503: {"description": "The database does not answer"}})
def ready(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: the database answers a query."""
    try:
        with runtime.db.session() as db:
            db.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means not ready
        body = {
            "error": {"code": "NOT_READY", "message": "The database does not answer", "details": {}}
        }
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready", "version": __version__, "database": "ok"})
