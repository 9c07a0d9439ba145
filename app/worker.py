"""The background work: the clock sweeper (with the daily read-model tick, the snapshots and
the restatements of finished days), the live-figures refresher, the CHC import runner and the
notifications job and the what-if runs.

They run as threads of whichever process starts them: the web service's own (`homefirst serve`,
the embedded default), or `homefirst worker`, so that `serve --no-background` can run behind a
load balancer with none of it. Several workers on one database never do the same work twice:
due clocks and import jobs are claimed (`SKIP LOCKED` on PostgreSQL), a day's snapshots are
stored once, and a stale figure is claimed by one refresher at a time. Each job records its
finished runs (heartbeats) for `/readyz`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.actions.overdue import sweep_overdue
from app.cases.transition import CaseWriter
from app.chc.config import chc_config
from app.chc.import_runner import Runner, run_import_loop
from app.chc.worklist import worklist_states
from app.clocks.sweeper import sweep
from app.codelists.loader import CodeSetRegistry
from app.composition import build_engine, build_writer, load_codes, workflows
from app.config import Settings
from app.dashboard.context import MetricsContext, context_for
from app.dashboard.live_figures import Freshness, LiveSource, refresh_due
from app.dashboard.restatements import restate
from app.dashboard.service import live_source, store_day
from app.dashboard.snapshots import yesterday
from app.db import UnitOfWork, make_engine, make_sessionmaker
from app.engine.engine import Engine
from app.engine.readmodels import tick_read_models
from app.ledger.config import load_ledger_config
from app.notifications.job import NotificationJob
from app.observability.metrics import ServiceMetrics
from app.observability.repository import HeartbeatRepository
from app.timeutil import london_date, utcnow
from app.whatif.config import load_whatif_config
from app.whatif.service import WhatIfParts, run_loop

log = logging.getLogger("homefirst.worker")
# Which process ran a background job last (shown by /readyz when it stops).
RUNNER = f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class BackgroundParts:
    """What the jobs need: the same parts the web service builds (`app.main.create_app`)."""

    settings: Settings
    sessions: sessionmaker[Session]
    writer: CaseWriter
    metrics_ctx: MetricsContext
    live: LiveSource
    metrics: ServiceMetrics | None = None
    # Set by an upload to the same process: run its import job now rather than at the poll.
    import_wake: threading.Event = field(default_factory=threading.Event)
    # Set by a what-if request to the same process: carry it out now rather than at the poll.
    whatif_wake: threading.Event = field(default_factory=threading.Event)


def dashboard_parts(
    settings: Settings, engine: Engine, codes: CodeSetRegistry
) -> tuple[MetricsContext, LiveSource]:
    """The figures' context and today's figures source, as the service and the worker use them."""
    ctx = context_for(settings, engine.catalogue, codes)
    live = live_source(
        ctx,
        engine,
        chc_config(settings.pathways_dir / "config"),
        Freshness(settings.live_figures_max_age, settings.live_figures_refresh),
    )
    return ctx, live


def background_parts(settings: Settings) -> BackgroundParts:
    """The parts for `homefirst worker`: the pathways, configuration and code lists loaded and
    checked as the service loads them (a bad file stops the start), and its own connections."""
    registered = workflows()
    codes = load_codes(settings)
    registered.load_configs(settings.pathways_dir / "config")
    engine = build_engine(settings, codes, registered)
    writer = build_writer(settings, engine, codes, registered)
    ctx, live = dashboard_parts(settings, engine, codes)
    sessions = make_sessionmaker(
        make_engine(settings.database_url, pooler=settings.database_pooler)
    )
    return BackgroundParts(settings, sessions, writer, ctx, live)


class Background:
    """The jobs the settings turn on, each in a daemon thread, until `stop`."""

    def __init__(self, parts: BackgroundParts) -> None:
        self.parts = parts
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def jobs(self) -> list[str]:
        settings = self.parts.settings
        jobs = []
        if settings.clock_sweep_interval_seconds > 0:
            jobs.append("clock-sweeper")
        if settings.live_figures_max_age_seconds > 0 and settings.live_figures_refresh_seconds > 0:
            jobs.append("live-figures")
        if settings.chc_import_poll_seconds > 0:
            jobs.append("chc-imports")
        if settings.notification_poll_seconds > 0:
            jobs.append("notifications")
        if settings.whatif_poll_seconds > 0:
            jobs.append("whatif")
        return jobs

    def start(self) -> None:
        targets = {
            "clock-sweeper": self._sweep_loop,
            "live-figures": self._live_loop,
            "chc-imports": self._import_loop,
            "notifications": self._notify_loop,
            "whatif": self._whatif_loop,
        }
        for name in self.jobs():
            thread = threading.Thread(target=targets[name], daemon=True, name=name)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        self.parts.import_wake.set()
        self.parts.whatif_wake.set()
        for thread in self._threads:
            thread.join(timeout=timeout)

    # -- the jobs ----------------------------------------------------------------------------
    def _sweep_loop(self) -> None:
        """Sweeps clocks; once a day re-derives the date-dependent read models and stores
        yesterday's metric snapshots."""
        parts, settings = self.parts, self.parts.settings
        snapshotted: date | None = None
        ticked: date | None = None
        restated_at: datetime | None = None
        while True:  # a first run at once, then one each interval
            try:
                now = utcnow()
                report = sweep(parts.sessions, now=now)
                if parts.metrics is not None:
                    parts.metrics.observe_sweep(report.warnings, report.breaches)
                # Actions and milestones past their due time: each owner told once.
                late = sweep_overdue(parts.sessions, now=now)
                log.info(
                    "clock sweep",
                    extra={
                        "event": "sweep",
                        "warnings": report.warnings,
                        "breaches": report.breaches,
                        "actions_overdue": late.alerted,
                        "duration_ms": round((utcnow() - now).total_seconds() * 1000, 2),
                    },
                )
                if ticked != london_date(now):
                    # Read models that depend on the date (CHC days waiting) move on once a day.
                    with parts.sessions() as session:
                        changed = tick_read_models(session, parts.writer.read_models, now)
                    ticked = london_date(now)
                    log.info(
                        "read models re-derived",
                        extra={"event": "tick", "day": ticked.isoformat(), "rows_changed": changed},
                    )
                if snapshotted != yesterday(now):
                    with parts.sessions() as session:
                        snapshotted, new = store_day(
                            session, ctx=parts.metrics_ctx, day=None, now=now
                        )
                    log.info(
                        "metric snapshots stored",
                        extra={"event": "snapshot", "day": snapshotted.isoformat(), "new": new},
                    )
                # Finished days that entries recorded late have changed: restated beside the
                # stored figures (app.dashboard.restatements), every so often.
                every = settings.restate_interval_seconds
                if every <= 0 or (
                    restated_at is not None and (now - restated_at).total_seconds() < every
                ):
                    done = None
                else:
                    with parts.sessions() as session:
                        done = restate(session, ctx=parts.metrics_ctx, now=now)
                    restated_at = now
                if done is not None and done.marks:
                    log.info(
                        "finished days restated",
                        extra={
                            "event": "restate",
                            "marks": done.marks,
                            "from_day": str(done.first_day),
                            "checked": done.checked,
                            "restated": done.restated,
                        },
                    )
                self._beat("clock_sweeper", settings.clock_sweep_interval_seconds)
            except Exception:  # keep going after a transient database error
                log.exception("scheduled job failed")
            if self._stop.wait(settings.clock_sweep_interval_seconds):
                return

    def _live_loop(self) -> None:
        """Keeps today's dashboard figures that someone is reading at most a refresh old."""
        parts, settings = self.parts, self.parts.settings
        period = settings.live_figures_refresh_seconds / 2
        while True:  # a first run at once, then one each period
            try:
                now = utcnow()
                refreshed = refresh_due(
                    parts.sessions,
                    now=now,
                    refresh=settings.live_figures_refresh,
                    compute=parts.live.compute,
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
                self._beat("live_figures", period)
            except Exception:  # keep going after a transient database error
                log.exception("live figures refresh failed")
            if self._stop.wait(period):
                return

    def _import_loop(self) -> None:
        """Runs CHC import jobs (README "Backlog import")."""
        parts, settings = self.parts, self.parts.settings
        runner = Runner(
            parts.sessions,
            parts.writer,
            chc_config(settings.pathways_dir / "config"),
            batch_rows=settings.chc_import_batch_rows,
            lease=timedelta(seconds=settings.chc_import_lease_seconds),
            stop=self._stop,
        )
        run_import_loop(
            runner, wake=parts.import_wake, poll_seconds=settings.chc_import_poll_seconds
        )

    def _notify_loop(self) -> None:
        """Fans the notifications outbox out and sends email and webhooks (README
        "Notifications")."""
        parts, settings = self.parts, self.parts.settings
        job = NotificationJob.of(settings, parts.sessions)
        while True:  # a first run at once, then one each period
            try:
                job.run(utcnow())
                self._beat("notifications", settings.notification_poll_seconds)
            except Exception:  # keep going after a transient database error
                log.exception("notifications job failed")
            if self._stop.wait(settings.notification_poll_seconds):
                return

    def _whatif_loop(self) -> None:
        """Carries out what-if runs (README "What-if simulation")."""
        parts, settings = self.parts, self.parts.settings
        config_dir = settings.pathways_dir / "config"
        job = WhatIfParts(
            parts.sessions,
            parts.metrics_ctx,
            load_whatif_config(config_dir),
            load_ledger_config(config_dir),
            worklist_states(parts.writer.engine),
            lease=timedelta(seconds=settings.whatif_lease_seconds),
            stop=self._stop,
        )
        run_loop(job, wake=parts.whatif_wake, poll_seconds=settings.whatif_poll_seconds)

    def _beat(self, job: str, period_seconds: float) -> None:
        """A finished run of `job`, for readiness: /readyz fails once it is three periods old."""
        with self.parts.sessions() as session, UnitOfWork(session):
            HeartbeatRepository(session).beat(
                job, period_seconds=period_seconds, now=utcnow(), runner=RUNNER
            )
