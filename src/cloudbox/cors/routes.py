from __future__ import annotations

from fastapi import APIRouter

from cloudbox.api.deps import Admin, DbDep, Viewer
from cloudbox.cors import service
from cloudbox.cors.schemas import CorsConfigIn, CorsConfigOut
from cloudbox.errors import InvalidInput

router = APIRouter(prefix="/api/projects/{project_id}/cors", tags=["cors"])


@router.get("", response_model=CorsConfigOut)
def get_cors(access: Viewer, db: DbDep) -> CorsConfigOut:
    return CorsConfigOut(**service.get_config(db, access.project_id))


@router.put("", response_model=CorsConfigOut)
def put_cors(body: CorsConfigIn, access: Admin, db: DbDep) -> CorsConfigOut:
    if body.allow_credentials and "*" in body.allowed_origins:
        raise InvalidInput(
            "allow_credentials cannot be combined with the origin '*'",
            details={"field": "allow_credentials"},
        )
    config = service.put_config(db, access.project_id, body.model_dump())
    db.commit()
    return CorsConfigOut(**config)
