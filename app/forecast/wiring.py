"""What the estimates' routes and page need of the application, loaded when the service starts
(app.main), and the one call that computes today's estimates for a reader."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from sqlalchemy.orm import Session

from app.forecast import service
from app.forecast.backtest import Backtest
from app.forecast.config import ForecastConfig


def forecast_config(request: Request) -> ForecastConfig:
    config: ForecastConfig = request.app.state.forecast_config
    return config


def estimates_for(
    request: Request, db: Session, organisation: str, now: datetime
) -> service.Estimates:
    return service.estimates(
        db,
        organisation=organisation,
        now=now,
        ctx=request.app.state.metrics_ctx,
        engine=request.app.state.engine,
        cfg=forecast_config(request),
    )


def backtest_for(request: Request, db: Session, organisation: str, now: datetime) -> Backtest:
    return service.backtest(
        db,
        organisation=organisation,
        now=now,
        ctx=request.app.state.metrics_ctx,
        engine=request.app.state.engine,
        cfg=forecast_config(request),
    )
