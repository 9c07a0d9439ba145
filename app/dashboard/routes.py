"""GET /dashboard/metrics, /dashboard/series and /dashboard/feed."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.calc.drd import london_date
from app.dashboard import service
from app.dashboard.feed import Feed, read_feed
from app.deps import CodesDep, CurrentActor, EngineDep, SessionDep, SettingsDep
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


@router.get("/feed", response_model=Feed)
def feed(
    _actor: CurrentActor,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    workflow: Annotated[str | None, Query(max_length=64)] = None,
) -> Feed:
    """Events since `cursor` (new and changed RFD entries among them), oldest first."""
    return read_feed(
        db,
        catalogue=engine.catalogue,
        cursor=cursor,
        limit=min(limit, settings.max_page_size),
        workflow=workflow,
    )
