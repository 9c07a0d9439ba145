"""GET /dashboard/metrics, /dashboard/series and /dashboard/feed."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.calc.drd import london_date
from app.dashboard import service
from app.deps import CodesDep, CurrentActor, SessionDep
from app.discharge.config import DischargeConfig
from app.timeutil import utcnow

router = APIRouter(prefix="/dashboard", tags=["dashboard"])
Site = Annotated[str | None, Query(max_length=64, description="One site; all sites if omitted")]


def _config(request: Request) -> DischargeConfig:
    config: DischargeConfig = request.app.state.discharge_config
    return config


@router.get("/metrics")
def metrics(
    request: Request,
    _actor: CurrentActor,
    db: SessionDep,
    codes: CodesDep,
    site: Site = None,
    day: Annotated[
        date | None, Query(alias="date", description="London date; today if omitted")
    ] = None,
) -> dict[str, Any]:
    """The day's figures as at its snapshot time (the end of the day, or now for today)."""
    now = utcnow()
    return service.compute_metrics(
        db, day=day or london_date(now), site=site, now=now, codes=codes, config=_config(request)
    )
