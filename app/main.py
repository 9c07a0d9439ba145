"""The FastAPI application: pathways are loaded and checked before anything is served."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from app.actions.routes import router as actions_router
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
from app.codelists_api.routes import router as codelists_router
from app.composition import build_engine, build_writer, load_codes, workflows
from app.config import Settings, get_settings
from app.dashboard.page import router as dashboard_page
from app.dashboard.routes import router as dashboard_router
from app.db import get_sessionmaker, make_engine, make_sessionmaker
from app.discharge.config import load_discharge_config
from app.fhir.install import install_fhir
from app.forecast.config import load_forecast_config
from app.forecast.page import router as forecast_page
from app.forecast.routes import router as forecast_router
from app.forecast.wiring import BacktestCache
from app.health import router as health_router
from app.ledger.config import load_ledger_config
from app.ledger.page import router as ledger_page
from app.ledger.routes import router as ledger_router
from app.links.routes import router as links_router
from app.notifications.routes import router as notifications_router
from app.observability.metrics import ServiceMetrics
from app.observability.metrics import router as metrics_router
from app.observability.requests import RequestLog
from app.pathway_fit.config import pathway_fit_config
from app.pathway_fit.routes import router as pathway_fit_router
from app.pathways_api.routes import router as pathways_router
from app.problems import install_error_handlers
from app.quality.config import load_quality_config
from app.quality.page import router as quality_page
from app.quality.routes import router as quality_router
from app.security.inputs import check_inputs
from app.security.install import install_security
from app.web.install import install_pages
from app.web.oidc import oidc_clients
from app.web.oidc import router as oidc_router
from app.whatif.config import load_whatif_config
from app.whatif.page import router as whatif_page
from app.whatif.routes import router as whatif_router
from app.worker import Background, BackgroundParts, dashboard_parts

log = logging.getLogger(__name__)
DASHBOARD_STATIC = Path(__file__).parent / "dashboard" / "static"


@asynccontextmanager
async def lifespan(application: FastAPI) -> AsyncIterator[None]:
    # The background jobs the settings turn on run in this process (`serve --no-background`
    # turns them all off and leaves them to `homefirst worker`).
    background = Background(application.state.background)
    background.start()
    try:
        yield
    finally:
        background.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    registered = workflows()
    codes = load_codes(settings)
    registered.load_configs(settings.pathways_dir / "config")  # a bad file stops the start
    access = load_access(settings.pathways_dir / "config")  # who reads what: the same
    clients = oidc_clients(settings)  # identity providers (and their secrets): the same
    ledger_config = load_ledger_config(settings.pathways_dir / "config")  # the same
    forecast_config = load_forecast_config(settings.pathways_dir / "config")  # the same
    whatif_config = load_whatif_config(settings.pathways_dir / "config")  # the same
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
        else make_sessionmaker(
            make_engine(
                settings.database_url,
                echo=settings.sql_echo,
                pooler=settings.database_pooler,
            )
        )
    )
    metrics = ServiceMetrics(application.state.sessions, application.state.sessions.kw["bind"])
    application.state.metrics = metrics
    application.state.writer = replace(
        build_writer(settings, engine, codes, registered), observe=metrics.observe_transition
    )
    application.state.codes = codes
    application.state.discharge_config = load_discharge_config(settings.pathways_dir)
    # The data-quality thresholds (pathways/config/data-quality.yaml): a bad file stops the start.
    application.state.quality_config = load_quality_config(settings.pathways_dir / "config")
    application.state.pathway_fit_config = pathway_fit_config(settings.pathways_dir, codes)
    application.state.metrics_ctx, application.state.live = dashboard_parts(settings, engine, codes)
    application.state.settings = settings
    application.state.ledger_config = ledger_config
    application.state.forecast_config = forecast_config
    application.state.forecast_backtests = BacktestCache(
        timedelta(minutes=forecast_config.backtest.keep_minutes)
    )
    application.state.whatif_config = whatif_config
    application.state.oidc_clients = clients
    # The hospital PAS feed over HTTP (the listener builds its own): a bad interfaces file
    # stops the start.
    application.state.adt = build_adt_service(settings, application.state.writer)
    application.state.background = BackgroundParts(
        settings,
        application.state.sessions,
        application.state.writer,
        application.state.metrics_ctx,
        application.state.live,
        metrics,
    )
    # Set by an upload: the import runner of this process runs its job now.
    application.state.import_wake = application.state.background.import_wake
    # Set by a what-if request: the what-if job of this process carries it out now.
    application.state.whatif_wake = application.state.background.whatif_wake
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
        notifications_router,
        actions_router,
        quality_router,
        ledger_router,
        forecast_router,
        whatif_router,
        pathway_fit_router,
        *registered.routers(),
    ):
        api.include_router(router)
    application.include_router(api)
    application.include_router(health_router)
    application.include_router(metrics_router)  # Prometheus: a metrics token or network only
    application.include_router(dashboard_page)
    application.include_router(quality_page)  # /dashboard/quality
    application.include_router(ledger_page)  # /dashboard/ledger
    application.include_router(forecast_page)  # /dashboard/forecast
    application.include_router(whatif_page)  # /dashboard/whatif
    application.include_router(oidc_router)  # sign-in through an identity provider: public
    install_fhir(application)  # FHIR R4 out: /fhir/R4, OperationOutcome errors
    install_access(application, access)
    install_pages(application)
    application.mount(
        "/dashboard/static", StaticFiles(directory=DASHBOARD_STATIC), name="dashboard-static"
    )
    install_api_docs(application)
    return application
