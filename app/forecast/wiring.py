"""What the estimates' routes and page need of the application, loaded when the service starts
(app.main), and the one call that computes today's estimates for a reader."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import Request
from sqlalchemy.orm import Session

from app.forecast import service
from app.forecast.backtest import Backtest
from app.forecast.config import ForecastConfig
from app.timeutil import london_date


class BacktestCache:
    """Each organisation's last backtest, kept for a while: it is made as at past days, so only
    late entries and what has happened since move it, and it is the estimates' dearest part
    (every spell of the last 12 weeks and the window before them). One per process."""

    def __init__(self, keep: timedelta) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._kept: dict[str, Backtest] = {}

    def get(self, organisation: str, now: datetime, compute: Callable[[], Backtest]) -> Backtest:
        with self._lock:
            found = self._kept.get(organisation)
        fresh = (
            found is not None
            and london_date(found.now) == london_date(now)
            and timedelta(0) <= now - found.now < self.keep
        )
        if found is not None and fresh:
            return found
        made = compute()
        if self.keep > timedelta(0):
            with self._lock:
                self._kept[organisation] = made
        return made


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
    """The organisation's backtest, made at most `backtest.keep_minutes` ago (its `now` says
    when)."""
    kept: BacktestCache = request.app.state.forecast_backtests
    return kept.get(
        organisation,
        now,
        lambda: service.backtest(
            db,
            organisation=organisation,
            now=now,
            ctx=request.app.state.metrics_ctx,
            engine=request.app.state.engine,
            cfg=forecast_config(request),
        ),
    )
