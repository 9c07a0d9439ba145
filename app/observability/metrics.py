"""`/metrics` in the Prometheus text format (prometheus-client).

Two kinds of figure:

- **counted by this process** as it works: HTTP request durations by route template, method and
  status class; transitions by workflow and event; clock warnings and breaches the sweeper fired.
  Each application has its own registry (nothing is registered at import). With several uvicorn
  workers, set `PROMETHEUS_MULTIPROC_DIR` to an empty directory before the service starts:
  prometheus-client then keeps each worker's counts in files there, and every scrape adds them
  up (README "Running it: logs and metrics").
- **read from the database at each scrape** (the same whichever process answers): open clocks
  past a warning or breached, sweeper lag (how long the oldest due clock has waited), the age of
  the stalest of today's dashboard figures someone is reading, CHC import jobs waiting, PAS
  messages in the dead-letter list; and this process's database connection pool.

Who may read it: a request with `Authorization: Bearer <METRICS_TOKEN>`, or from an address in
`METRICS_NETWORKS`. Nothing here names a patient: labels are route templates, workflow and event
keys, and status classes.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.errors import Forbidden, Unauthorized
from app.observability.repository import OperationsRepository
from app.timeutil import utcnow

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Figures asked for within this long count as being read (the dashboard polls far more often).
READ_RECENTLY = timedelta(hours=1)
# Request durations: from a cached read to a slow export.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    def __init__(self, sessions: sessionmaker[Session], engine: Engine) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Histogram(
            "homefirst_http_request_duration_seconds",
            "HTTP requests by route template, method and status class.",
            ["route", "method", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.transitions = Counter(
            "homefirst_transitions",
            "Transitions written by this process, by workflow and event.",
            ["workflow", "event"],
            registry=self.registry,
        )
        self.clock_alerts = Counter(
            "homefirst_clock_alerts",
            "Clock warnings and breaches fired by this process's sweeper.",
            ["kind"],
            registry=self.registry,
        )
        self.database = DatabaseFigures(sessions, engine)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, f"{status // 100}xx").observe(seconds)

    def observe_transition(self, workflow: str, event: str) -> None:
        self.transitions.labels(workflow, event).inc()

    def observe_sweep(self, warnings: int, breaches: int) -> None:
        if warnings:
            self.clock_alerts.labels("warning").inc(warnings)
        if breaches:
            self.clock_alerts.labels("breach").inc(breaches)

    def render(self) -> bytes:
        registry = CollectorRegistry()
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # every worker's counts
            registry.register(self.database)
            return generate_latest(registry)
        return generate_latest(self.registry) + generate_latest(_Only(self.database))


class DatabaseFigures(Collector):
    """Gauges read at scrape time (see the module's docstring)."""

    def __init__(self, sessions: sessionmaker[Session], engine: Engine) -> None:
        self.sessions, self.engine = sessions, engine

    def describe(self) -> list[Metric]:
        return []  # collected only when scraped, never at registration

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        with self.sessions() as session:
            figures = OperationsRepository(session).figures(now, asked_since=now - READ_RECENTLY)
            session.rollback()
        clocks = GaugeMetricFamily(
            "homefirst_clocks_alerting", "Open clocks past a warning or breached.", labels=["kind"]
        )
        clocks.add_metric(["warning"], figures.clocks_warned)
        clocks.add_metric(["breach"], figures.clocks_breached)
        yield clocks
        yield GaugeMetricFamily(
            "homefirst_clock_sweeper_lag_seconds",
            "How long the oldest clock due for a check has waited for the sweeper (0: none).",
            value=figures.sweeper_lag_seconds,
        )
        if figures.live_figures_age_seconds is not None:
            yield GaugeMetricFamily(
                "homefirst_live_figures_age_seconds",
                "Age of the stalest of today's dashboard figures read in the last hour.",
                value=figures.live_figures_age_seconds,
            )
        yield GaugeMetricFamily(
            "homefirst_chc_imports_pending",
            "CHC backlog import jobs queued or running.",
            value=figures.imports_pending,
        )
        yield GaugeMetricFamily(
            "homefirst_adt_dead_letters",
            "PAS (HL7 v2 ADT) messages refused and not yet retried or dismissed.",
            value=figures.adt_dead_letters,
        )
        yield GaugeMetricFamily(
            "homefirst_notifications_waiting",
            "Notifications in the outbox not yet fanned out to their recipients.",
            value=figures.notifications_waiting,
        )
        deliveries = GaugeMetricFamily(
            "homefirst_notification_deliveries",
            "Emails and webhooks waiting to be sent (pending) or given up on (dead).",
            labels=["status"],
        )
        deliveries.add_metric(["pending"], figures.deliveries_pending)
        deliveries.add_metric(["dead"], figures.deliveries_dead)
        yield deliveries
        pool: Any = self.engine.pool
        if hasattr(pool, "checkedout") and hasattr(pool, "size"):
            connections = GaugeMetricFamily(
                "homefirst_db_pool_connections",
                "This process's database connections: in use, and the pool's size.",
                labels=["kind"],
            )
            connections.add_metric(["in_use"], pool.checkedout())
            connections.add_metric(["size"], pool.size())
            yield connections


class _Only:
    """A registry-like wrapper so that `generate_latest` renders one collector."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def collect(self) -> Iterator[Metric]:
        return iter(self.collector.collect())


# -- the route --------------------------------------------------------------------------------
router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format, for a metrics token or a configured network only."""
    settings: Settings = request.app.state.settings
    _check_access(request, settings)
    service: ServiceMetrics = request.app.state.metrics
    return Response(service.render(), media_type=CONTENT_TYPE)


def _check_access(request: Request, settings: Settings) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if header:
        if (
            settings.metrics_token
            and scheme.lower() == "bearer"
            and hmac.compare_digest(credential.strip().encode(), settings.metrics_token.encode())
        ):
            return
        raise Unauthorized("the metrics token is not right")
    client = request.client.host if request.client is not None else None
    if client is not None and _in_networks(client, settings.metrics_networks):
        return
    raise Forbidden(
        "metrics are for the monitoring system: send its token (METRICS_TOKEN) or call from a "
        "network in METRICS_NETWORKS"
    )


def _in_networks(host: str, networks: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)
