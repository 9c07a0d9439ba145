"""What-if runs: queued by a manager, carried out by the background job.

A run is claimed (oldest first; `SKIP LOCKED` on PostgreSQL, as the CHC import runner claims
its jobs) under a lease. The job derives the inputs from the events as at the request
(`app.whatif.observed`), stores them, runs the model on them (`app.whatif.compare`) and stores
the result, if it still holds the lease. A job that dies leaves the run `running` under a lease
that runs out; the next claim takes it again. A run that fails `MAX_ATTEMPTS` times is `failed`
with the kind of error (never its message: it may quote data).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import Actor
from app.dashboard.context import MetricsContext
from app.db import UnitOfWork
from app.ledger.config import LedgerConfig
from app.models import WhatIfRun
from app.timeutil import utcnow
from app.whatif.compare import compare
from app.whatif.config import WhatIfConfig
from app.whatif.model import Scenario, scaled
from app.whatif.observed import observe, system_of
from app.whatif.repository import WhatIfRepository
from app.whatif.schemas import MAX_SEED, WhatIfRequest

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
LEASE = timedelta(minutes=10)
LISTED = 100


@dataclass
class WhatIfParts:
    """What the job needs: connections and the configuration the service loaded."""

    sessions: sessionmaker[Session]
    ctx: MetricsContext
    config: WhatIfConfig
    ledger: LedgerConfig
    worklist: tuple[str, ...]  # the CHC states tagged chc-worklist
    lease: timedelta = LEASE
    owner: str = field(default_factory=lambda: f"whatif-{uuid.uuid4().hex[:16]}")
    stop: threading.Event | None = None


def request_run(
    session: Session, *, actor: Actor, body: WhatIfRequest, config: WhatIfConfig, now: datetime
) -> WhatIfRun:
    """Queue a run for the actor's organisation (a seed chosen at random if none is given,
    and kept, so the run can be repeated)."""
    with UnitOfWork(session):
        return WhatIfRepository(session).add(
            WhatIfRun(
                organisation=actor.organisation,
                requested_by=actor.username,
                requested_at=now,
                status="queued",
                scenario={
                    **body.changes(),
                    "look_back_weeks": body.look_back_weeks or config.look_back_weeks,
                    "scale_to_beds": body.scale_to_beds,
                },
                seed=body.seed if body.seed is not None else secrets.randbelow(MAX_SEED),
                runs=body.runs or config.runs,
                weeks=body.weeks or config.horizon_weeks,
                attempts=0,
            )
        )


def run_pending(parts: WhatIfParts, *, only: int | None = None) -> int:
    """Carry out runs until none is left to claim (or just the run `only`); how many."""
    done = 0
    while parts.stop is None or not parts.stop.is_set():
        with parts.sessions() as session:
            claimed = _claim(session, parts, only)
            if claimed is None:
                return done
            done += 1
            try:
                _carry_out(session, parts, claimed)
            except Exception as exc:  # noqa: BLE001 - recorded on the run, retried, then failed
                session.rollback()
                log.error("what-if run %s failed: %s", claimed, type(exc).__name__)
                _failed(session, parts, claimed, type(exc).__name__)
        if only is not None:
            return done
    return done


def run_loop(parts: WhatIfParts, *, wake: threading.Event, poll_seconds: float) -> None:
    """The background thread: run what is queued, then wait for a request (or the poll, for
    runs queued in another process or left by a job that died)."""
    while parts.stop is None or not parts.stop.is_set():
        try:
            run_pending(parts)
        except Exception as exc:  # noqa: BLE001 - keep going after a transient database error
            log.error("what-if job failed: %s", type(exc).__name__)
        wake.wait(poll_seconds)
        wake.clear()


def _claim(session: Session, parts: WhatIfParts, only: int | None) -> int | None:
    now = utcnow()
    with UnitOfWork(session):
        run = WhatIfRepository(session).claim(now, only=only)
        if run is None:
            return None
        run.status = "running"
        run.lease_owner = parts.owner
        run.lease_expires_at = now + parts.lease
        run.attempts += 1
        run.started_at = now
        return run.id


def _carry_out(session: Session, parts: WhatIfParts, run_id: int) -> None:
    repo = WhatIfRepository(session)
    run = session.get(WhatIfRun, run_id)
    assert run is not None  # noqa: S101 - just claimed
    if run.attempts > MAX_ATTEMPTS:
        with UnitOfWork(session):
            _finish(run, "failed", error=f"stopped after {MAX_ATTEMPTS} attempts")
        return
    scenario, weeks, runs, seed = dict(run.scenario), run.weeks, run.runs, run.seed
    inputs = observe(
        session,
        organisation=run.organisation,
        now=run.requested_at,
        ctx=parts.ctx,
        config=parts.config,
        ledger=parts.ledger,
        worklist=parts.worklist,
        look_back_weeks=scenario.get("look_back_weeks"),
    )
    inputs["scale"] = _scale(scenario.get("scale_to_beds"), parts.config)
    session.rollback()  # the reads are done: hold no snapshot while the model runs
    started = time.perf_counter()
    result = simulate_inputs(inputs, scenario, weeks=weeks, runs=runs, seed=seed)
    result["seconds"] = round(time.perf_counter() - started, 3)
    with UnitOfWork(session):
        run = repo.lock(run_id)
        if run is None or run.lease_owner != parts.owner or run.status != "running":
            log.warning("what-if run %s: another job holds it now; this one stops", run_id)
            return
        run.inputs = inputs
        run.result = result
        _finish(run, "done")


def simulate_inputs(
    inputs: dict[str, Any], scenario: dict[str, Any], *, weeks: int, runs: int, seed: int
) -> dict[str, Any]:
    """The result of a run from its stored inputs and scenario: what the job stores, and what
    anyone can compute again from the run's record."""
    system = system_of(inputs, days=weeks * 7)
    if inputs.get("scale"):
        system = scaled(system, inputs["scale"]["factor"])
    changes = {k: v for k, v in scenario.items() if k in Scenario.__dataclass_fields__}
    return compare(system, Scenario(**changes), weeks=weeks, runs=runs, seed=seed)


def _scale(beds: int | None, config: WhatIfConfig) -> dict[str, Any] | None:
    if beds is None:
        return None
    figure = config.acute_beds
    return {
        "to_beds": beds,
        "acute_beds": figure.value,
        "factor": beds / figure.value,
        "status": figure.status,
        "basis": (
            f"every observed rate, capacity and queue multiplied by {beds} / {figure.value:g} "
            f"acute beds (whatif.yaml acute_beds: {figure.source})"
        ),
    }


def _finish(run: WhatIfRun, status: str, *, error: str | None = None) -> None:
    run.status = status
    run.error = error
    run.finished_at = utcnow()
    run.lease_owner, run.lease_expires_at = None, None


def _failed(session: Session, parts: WhatIfParts, run_id: int, kind: str) -> None:
    with UnitOfWork(session):
        run = WhatIfRepository(session).lock(run_id)
        if run is None or run.lease_owner != parts.owner:
            return
        if run.attempts >= MAX_ATTEMPTS:
            _finish(run, "failed", error=f"{kind} (after {run.attempts} attempts)")
        else:  # tried again at the next claim
            run.status, run.error = "queued", kind
            run.lease_owner, run.lease_expires_at = None, None


def summary(run: WhatIfRun) -> dict[str, Any]:
    """A run without its result (the list)."""
    return {
        "id": run.id,
        "status": run.status,
        "requested_by": run.requested_by,
        "requested_at": run.requested_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "scenario": run.scenario,
        "seed": run.seed,
        "runs": run.runs,
        "weeks": run.weeks,
        "error": run.error,
        "headline": _headline(run.result),
    }


def _headline(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """The scenario's median change in delayed bed days and cost over the horizon."""
    if not result:
        return None
    totals = result["totals"]
    return {
        "bed_days_difference_median": totals["bed_days"]["difference"]["median"],
        "cost_difference_median": totals["cost"]["difference"]["median"],
    }


def detail(run: WhatIfRun) -> dict[str, Any]:
    return {**summary(run), "inputs": run.inputs, "result": run.result}


def listed(session: Session, organisation: str) -> list[WhatIfRun]:
    return WhatIfRepository(session).listed(organisation, LISTED)


def one(session: Session, run_id: int, organisation: str) -> WhatIfRun | None:
    return WhatIfRepository(session).get(run_id, organisation)
