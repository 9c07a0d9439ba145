"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.deps import SessionDep
from app.migrations_state import head_revision
from app.observability.repository import HeartbeatRepository
from app.timeutil import utcnow

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        503: {
            "description": "The database is unreachable, migrations are pending, or a background "
            "job has stopped"
        }
    },
)
def readyz(db: SessionDep) -> JSONResponse:
    """The database answers, its schema is at the migrations' head, and every background job
    that has ever run against it (the clock sweeper, the live-figures refresher) finished a run
    within three of its periods."""
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
    try:
        stale = HeartbeatRepository(db).stale(utcnow())
    finally:
        db.rollback()
    if stale:
        return JSONResponse(
            {
                "status": "unavailable",
                "code": "background_stopped",
                "detail": (
                    "A background job has not finished a run within three of its periods: "
                    "start `homefirst worker` (or the service's own threads) again."
                ),
                "jobs": [
                    {
                        "job": job.job,
                        "last_run_at": job.last_run_at.isoformat(),
                        "period_seconds": job.period_seconds,
                        "runner": job.runner,
                    }
                    for job in stale
                ],
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "schema": current})
