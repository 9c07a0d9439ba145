"""The demo's queues have a past (app/discharge/demo_history.py, app/demo/chc_history.py): loaded
into a fresh database, the queue-aware estimates (app/forecast) give start windows from a pace
and the backtest scores them, as a manager trying the demo sees them."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.chc.config import chc_config
from app.chc.worklist import worklist_states
from app.composition import Parts, build_parts, workflows
from app.config import PROJECT_ROOT, Settings
from app.dashboard.context import MetricsContext, context_for
from app.db import make_engine, make_sessionmaker
from app.demo import DEMO_ORG, load_demo
from app.forecast import service
from app.forecast.config import ForecastConfig, load_forecast_config
from app.models import Case
from app.timeutil import utcnow
from tests.servers import NOTHING_IN_THE_BACKGROUND

READY = ("ready_for_discharge", "awaiting_support")


@dataclass(frozen=True)
class Demo:
    sessions: sessionmaker[Session]
    parts: Parts
    ctx: MetricsContext
    cfg: ForecastConfig
    now: datetime


@pytest.fixture(scope="module")
def demo(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo loaded into a database of its own (SQLite at the migrations' head)."""
    path = tmp_path_factory.mktemp("demo") / f"{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    settings = Settings(database_url=url, **{k.lower(): 0 for k in NOTHING_IN_THE_BACKGROUND})
    parts = build_parts(settings)
    sa_engine = make_engine(url)
    sessions = make_sessionmaker(sa_engine)
    now = utcnow()
    config = PROJECT_ROOT / "pathways" / "config"
    load_demo(sessions, parts.writer, workflows(), chc_cfg=chc_config(config), now=now)
    ctx = context_for(settings, parts.engine.catalogue, parts.codes)
    yield Demo(sessions, parts, ctx, load_forecast_config(config), now)
    sa_engine.dispose()


def test_waiting_patients_and_backlog_cases_get_start_windows(demo: Demo) -> None:
    with demo.sessions() as session:
        found = service.estimates(
            session,
            organisation=DEMO_ORG,
            now=demo.now,
            ctx=demo.ctx,
            engine=demo.parts.engine,
            cfg=demo.cfg,
        )
        # Read from the cases themselves: who is waiting for a P1 service now (the history's
        # patients, NHS numbers 9994...), and which CHC cases are in the assessors' backlog.
        ready = session.scalars(
            select(Case).where(
                Case.organisation == DEMO_ORG,
                Case.workflow_key == "discharge",
                Case.state.in_(READY),
                Case.patient_ref.like("9994%"),
            )
        )
        p1_waiting = {c.id for c in ready if c.attributes.get("pathway") == "P1"}
        backlog = set(
            session.scalars(
                select(Case.id).where(
                    Case.organisation == DEMO_ORG,
                    Case.workflow_key == "chc",
                    Case.state.in_(worklist_states(demo.parts.engine)),
                )
            )
        )
    queues = {q.queue.name: q for q in found.queues}
    p1, chc = queues["P1"], queues["chc"]
    assert p1_waiting
    assert backlog
    assert p1_waiting <= {e.case_id for e in p1.waiting}
    assert {e.case_id for e in chc.waiting} == backlog
    for queue in (p1, chc):
        # A pace from the past weeks, and a window for every one waiting, in queue order.
        assert queue.pace.exits > 0
        assert queue.pace.started > 0
        counted = len(queue.waiting) - len(queue.held)
        assert [w.place for w in queue.windows] == list(range(1, counted + 1))
        assert all(w.earliest is not None and w.likely is not None for w in queue.windows[:3])
        likely = [w.likely for w in queue.windows if w.likely is not None]
        assert likely == sorted(likely)
    assert found.clearance is not None


def test_the_imported_cases_nobody_picked_up_are_held_back(demo: Demo) -> None:
    """Once the imported lists are rated (after the load), the cases from the 2020 lists come
    first in the queue's order, yet the history's newer referrals were the ones assessed: the
    estimates say those cases are held back instead of putting everyone behind them."""
    with demo.sessions() as session:
        found = service.estimates(
            session,
            organisation=DEMO_ORG,
            now=utcnow(),
            ctx=demo.ctx,
            engine=demo.parts.engine,
            cfg=demo.cfg,
        )
    chc = next(q for q in found.queues if q.queue.name == "chc")
    assert chc.held
    assert all(not (h.episode.patient_ref or "").startswith("9995") for h in chc.held)
    assert all(h.overtaken_by >= demo.cfg.queues.held_back.min_overtaken for h in chc.held)
    # Those left are estimated from the first place on.
    assert [w.place for w in chc.windows] == list(range(1, len(chc.windows) + 1))
    assert len(chc.windows) + len(chc.held) == len(chc.waiting)


def test_the_backtest_scores_estimates_of_p1_and_the_chc_backlog(demo: Demo) -> None:
    with demo.sessions() as session:
        result = service.backtest(
            session,
            organisation=DEMO_ORG,
            now=demo.now,
            ctx=demo.ctx,
            engine=demo.parts.engine,
            cfg=demo.cfg,
        )
    scores = {s.queue: s for s in result.queues}
    assert len(result.as_at_days) == demo.cfg.backtest.weeks * 7 // demo.cfg.backtest.every_days
    for name in ("P1", "chc"):
        score = scores[name]
        assert score.scored > 0, name
        assert score.mae is not None, name
        assert score.coverage is not None, name
    assert result.clearance.scored > 0
