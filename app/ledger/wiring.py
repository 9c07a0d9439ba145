"""What the ledger's routes and page need of the application: the figures' context and the
ledger's configuration, both loaded when the service starts (app.main)."""

from __future__ import annotations

from fastapi import Request

from app.dashboard.context import MetricsContext
from app.ledger.config import LedgerConfig


def ledger_parts(request: Request) -> tuple[MetricsContext, LedgerConfig]:
    ctx: MetricsContext = request.app.state.metrics_ctx
    config: LedgerConfig = request.app.state.ledger_config
    return ctx, config
