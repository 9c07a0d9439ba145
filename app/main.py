"""The FastAPI application: pathways are loaded and checked before anything is served."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from app.admin.routes import router as admin_router
from app.adt.routes import router as adt_router
from app.adt.service import build_adt_service
from app.apidocs import install_api_docs
from app.audit.routes import router as audit_router
from app.auth.access import load_access
from app.auth.needs import install_access
from app.auth.routes import router as auth_router
from app.cases.routes import router as cases_router
from app.cases.sharing_routes import router as sharing_router
from app.chc.config import chc_config
from app.chc.import_runner import Runner, run_import_loop
from app.clocks.sweeper import sweep
from app.codelists_api.routes import router as codelists_router
from app.composition import build_engine, build_writer, load_codes, workflows
from app.config import Settings, get_settings
from app.dashboard.context import context_for
from app.dashboard.live_figures import Freshness, refresh_due
from app.dashboard.page import router as dashboard_page
from app.dashboard.routes import router as dashboard_router
from app.dashboard.service import live_source, store_day
from app.dashboard.snapshots import yesterday
from app.db import UnitOfWork, get_sessionmaker, make_engine, make_sessionmaker
from app.discharge.config import load_discharge_config
from app.engine.readmodels import tick_read_models
from app.fhir.install import install_fhir
from app.health import router as health_router
from app.links.routes import router as links_router
from app.observability.metrics import ServiceMetrics
from app.observability.metrics import router as metrics_router
from app.observability.repository import HeartbeatRepository
from app.observability.requests import RequestLog
from app.pathways_api.routes import router as pathways_router
from app.problems import install_error_handlers
from app.security.inputs import check_inputs
from app.security.install import install_security
from app.timeutil import london_date, utcnow
from app.web.install import install_pages
from app.web.oidc import oidc_clients
from app.web.oidc import router as oidc_router

log = logging.getLogger(__name__)
DASHBOARD_STATIC = Path(__file__).parent / "dashboard" / "static"


@asynccontextmanager
async def lifespan(application: FastAPI) -> AsyncIterator[None]:
    settings: Settings = application.state.settings
    stop = threading.Event()
    thread = None
    if settings.clock_sweep_interval_seconds > 0:
        thread = threading.Thread(
            target=_sweep_loop, args=(stop, application), daemon=True, name="clock-sweeper"
        )
        thread.start()
    refresher = None
    if settings.live_figures_max_age_seconds > 0 and settings.live_figures_refresh_seconds > 0:
        refresher = threading.Thread(
            target=_live_loop, args=(stop, application), daemon=True, name="live-figures"
        )
        refresher.start()
    importer = None
    if settings.chc_import_poll_seconds > 0:
        importer = threading.Thread(
            target=_import_loop, args=(stop, application), daemon=True, name="chc-imports"
        )
        importer.start()
    try:
        yield
    finally:
        stop.set()
        application.state.import_wake.set()
        for running in (thread, refresher, importer):
            if running is not None:
                running.join(timeout=5)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    registered = workflows()
    codes = load_codes(settings)
    registered.load_configs(settings.pathways_dir / "config")  # a bad file stops the start
    access = load_access(settings.pathways_dir / "config")  # who reads what: the same
    clients = oidc_clients(settings)  # identity providers (and their secrets): the same
    engine = build_engine(settings, codes, registered)

    application = FastAPI(
        title="HomeFirst",
        version="0.1.0",
        description="Discharge-to-assess, continuing healthcare and intermediate-care workflows.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load Swagger UI and ReDoc from a CDN: ours (below) do not
        redoc_url=None,
    )
    application.state.workflows = registered
    application.state.engine = engine
    application.state.sessions = (
        get_sessionmaker()
        if settings is get_settings()
        else make_sessionmaker(make_engine(settings.database_url, echo=settings.sql_echo))
    )
    metrics = ServiceMetrics(application.state.sessions, application.state.sessions.kw["bind"])
    application.state.metrics = metrics
    application.state.writer = replace(
        build_writer(settings, engine, codes, registered), observe=metrics.observe_transition
    )
    application.state.codes = codes
    application.state.discharge_config = load_discharge_config(settings.pathways_dir)
    application.state.metrics_ctx = context_for(settings, engine.catalogue, codes)
    application.state.live = live_source(
        application.state.metrics_ctx,
        engine,
        chc_config(settings.pathways_dir / "config"),
        Freshness(settings.live_figures_max_age, settings.live_figures_refresh),
    )
    application.state.settings = settings
    application.state.oidc_clients = clients
    # The hospital PAS feed over HTTP (the listener builds its own): a bad interfaces file
    # stops the start.
    application.state.adt = build_adt_service(settings, application.state.writer)
    application.state.import_wake = threading.Event()  # set by an upload: run its job now
    install_error_handlers(application)
    install_security(application, settings)
    # Outermost: the request's id and log line cover every refusal the middleware above makes.
    application.add_middleware(RequestLog, observe=metrics.observe_request)
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(check_inputs)])
    for router in (
        cases_router,
        pathways_router,
        codelists_router,
        health_router,
        links_router,
        sharing_router,
        audit_router,
        admin_router,
        dashboard_router,
        auth_router,
        adt_router,
        *registered.routers(),
    ):
        api.include_router(router)
    application.include_router(api)
    application.include_router(health_router)
    application.include_router(metrics_router)  # Prometheus: a metrics token or network only
    application.include_router(dashboard_page)
    application.include_router(oidc_router)  # sign-in through an identity provider: public
    install_fhir(application)  # FHIR R4 out: /fhir/R4, OperationOutcome errors
    install_access(application, access)
    install_pages(application)
    application.mount(
        "/dashboard/static", StaticFiles(directory=DASHBOARD_STATIC), name="dashboard-static"
    )
    install_api_docs(application)
    return application


def _live_loop(stop: threading.Event, application: FastAPI) -> None:
    """Keeps today's dashboard figures that someone is reading at most a refresh old."""
    settings: Settings = application.state.settings
    live = application.state.live
    period = settings.live_figures_refresh_seconds / 2
    while True:  # a first run at once, then one each period
        try:
            now = utcnow()
            refreshed = refresh_due(
                application.state.sessions,
                now=now,
                refresh=settings.live_figures_refresh,
                compute=live.compute,
            )
            if refreshed:
                log.info(
                    "live figures refreshed",
                    extra={
                        "event": "refresh",
                        "figures": refreshed,
                        "duration_ms": round((utcnow() - now).total_seconds() * 1000, 2),
                    },
                )
            _beat(application, "live_figures", period)
        except Exception:  # keep going after a transient database error
            log.exception("live figures refresh failed")
        if stop.wait(period):
            return


def _import_loop(stop: threading.Event, application: FastAPI) -> None:
    """Runs CHC import jobs in the background (README "Backlog import")."""
    settings: Settings = application.state.settings
    runner = Runner(
        application.state.sessions,
        application.state.writer,
        chc_config(settings.pathways_dir / "config"),
        batch_rows=settings.chc_import_batch_rows,
        lease=timedelta(seconds=settings.chc_import_lease_seconds),
        stop=stop,
    )
    run_import_loop(
        runner, wake=application.state.import_wake, poll_seconds=settings.chc_import_poll_seconds
    )


def _sweep_loop(stop: threading.Event, application: FastAPI) -> None:
    """Optional in-process scheduler: sweeps clocks, and stores yesterday's metric snapshots
    once a day. Safe beside other processes: both jobs are exactly-once in the database."""
    settings: Settings = application.state.settings
    snapshotted: date | None = None
    ticked: date | None = None
    while True:  # a first run at once, then one each interval
        try:
            now = utcnow()
            report = sweep(application.state.sessions, now=now)
            application.state.metrics.observe_sweep(report.warnings, report.breaches)
            log.info(
                "clock sweep",
                extra={
                    "event": "sweep",
                    "warnings": report.warnings,
                    "breaches": report.breaches,
                    "duration_ms": round((utcnow() - now).total_seconds() * 1000, 2),
                },
            )
            if ticked != london_date(now):
                # Read models that depend on the date (CHC days waiting) move on once a day.
                with application.state.sessions() as session:
                    changed = tick_read_models(session, application.state.writer.read_models, now)
                ticked = london_date(now)
                log.info(
                    "read models re-derived",
                    extra={"event": "tick", "day": ticked.isoformat(), "rows_changed": changed},
                )
            if snapshotted != yesterday(now):
                with application.state.sessions() as session:
                    snapshotted, new = store_day(
                        session, ctx=application.state.metrics_ctx, day=None, now=now
                    )
                log.info(
                    "metric snapshots stored",
                    extra={"event": "snapshot", "day": snapshotted.isoformat(), "new": new},
                )
            _beat(application, "clock_sweeper", settings.clock_sweep_interval_seconds)
        except Exception:  # keep going after a transient database error
            log.exception("scheduled job failed")
        if stop.wait(settings.clock_sweep_interval_seconds):
            return


# Which process ran a background job last (shown by /readyz when it stops).
RUNNER = f"{socket.gethostname()}:{os.getpid()}"


def _beat(application: FastAPI, job: str, period_seconds: float) -> None:
    """A finished run of `job`, for readiness: /readyz fails once it is three periods old."""
    with application.state.sessions() as session, UnitOfWork(session):
        HeartbeatRepository(session).beat(
            job, period_seconds=period_seconds, now=utcnow(), runner=RUNNER
        )
