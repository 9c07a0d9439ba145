"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.deps import SessionDep
from app.migrations_state import head_revision

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "The database is unreachable or migrations are pending"}},
)
def readyz(db: SessionDep) -> JSONResponse:
    """The database answers and its schema is at the migrations' head."""
    head = head_revision()
    try:
        current = db.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    except SQLAlchemyError:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "unreachable or not migrated",
                "code": "not_ready",
            },
            status_code=503,
        )
    finally:
        db.rollback()
    if current != head:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": "reachable",
                "schema": current,
                "head": head,
                "code": "migrations_pending",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "schema": current})
