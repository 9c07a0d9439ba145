"""Today's start windows and clearance forecast, and their backtest, for the queues of one
organisation: the waits derived from its events (`app.forecast.waits`), then the pure estimates
(`queues`, `clearance`, `backtest`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.chc.worklist import worklist_states
from app.dashboard.context import MetricsContext
from app.dashboard.service import derived_spells
from app.engine.engine import Engine
from app.forecast import backtest as backtesting
from app.forecast import clearance as clearance_forecast
from app.forecast.config import ForecastConfig
from app.forecast.queues import (
    Episode,
    Held,
    OrderKey,
    Pace,
    RankAt,
    StartWindow,
    exits_today,
    first_come,
    in_queue,
    pace_of,
    split_held,
    start_windows,
)
from app.forecast.repository import ForecastRepository
from app.forecast.waits import CHC_QUEUE, ChcOrder, chc_waits, discharge_waits
from app.timeutil import day_bounds, london_date


@dataclass(frozen=True)
class Queue:
    """One queue's waits and how it is ordered; `window_days` sets its pace."""

    name: str
    label: str
    episodes: list[Episode]
    order: OrderKey
    window_days: int
    chc_order: ChcOrder | None = None

    @property
    def rank(self) -> RankAt | None:
        """A priority queue's ranks (arrivals of a higher rank go ahead); None: first come."""
        return self.chc_order.rank if self.chc_order is not None else None


@dataclass(frozen=True)
class QueueEstimate:
    queue: Queue
    pace: Pace
    waiting: list[Episode]  # every patient waiting, in queue order (held back ones too)
    windows: list[StartWindow]
    held: list[Held]


@dataclass(frozen=True)
class Estimates:
    organisation: str
    as_at: datetime
    queues: list[QueueEstimate]
    clearance: clearance_forecast.Clearance | None


def queues_of(
    session: Session,
    *,
    organisation: str,
    since: datetime,
    now: datetime,
    ctx: MetricsContext,
    engine: Engine,
    cfg: ForecastConfig,
) -> list[Queue]:
    """The organisation's discharge pathway queues and CHC backlog, with every wait that was
    open at some time from `since` to `now`."""
    pathways = cfg.queues.discharge.pathways
    by_pathway: dict[str, list[Episode]] = {p: [] for p in pathways}
    for case, spell, _events in derived_spells(
        session, start=since, snapshot=now, site=None, organisation=organisation, ctx=ctx
    ):
        for episode in discharge_waits(spell, case.patient_ref, pathways):
            by_pathway[episode.queue].append(episode)
    found = [
        Queue(p, f"Pathway {p[1:]}", by_pathway[p], first_come, cfg.queues.discharge.window_days)
        for p in pathways
    ]
    return [
        *found,
        chc_queue(session, organisation=organisation, since=since, engine=engine, cfg=cfg),
    ]


def chc_queue(
    session: Session, *, organisation: str, since: datetime, engine: Engine, cfg: ForecastConfig
) -> Queue:
    repo = ForecastRepository(session)
    cases = repo.chc_cases(organisation, since)
    ids = list(cases)
    changes = repo.state_changes(ids)
    backlog = frozenset(worklist_states(engine))
    final = final_states(engine, "chc")
    episodes = [
        e
        for case_id, ref in cases.items()
        for e in chc_waits(case_id, ref, changes.get(case_id, []), backlog, final)
    ]
    referred, overrides = repo.work_items(ids)
    order = ChcOrder(repo.ratings(ids), overrides, referred)
    return Queue(CHC_QUEUE, "CHC backlog", episodes, order, cfg.queues.chc.window_days, order)


def final_states(engine: Engine, workflow: str) -> frozenset[str]:
    names: set[str] = set()
    for version in engine.catalogue.versions(workflow):
        loaded = engine.catalogue.get(workflow, version)
        if loaded is not None:
            names |= {s.name for s in loaded.spec.states if s.final}
    return frozenset(names)


def estimate(queue: Queue, *, now: datetime, cfg: ForecastConfig) -> QueueEstimate:
    """The queue's waiting patients now and each one's start window."""
    waiting = in_queue(queue.episodes, queue.name, now, queue.order)
    rank = queue.rank
    pace = pace_of(
        queue.episodes,
        queue.name,
        last_day=london_date(now) - timedelta(days=1),
        window_days=queue.window_days,
        rank_of=None if rank is None else (lambda e: rank(e, e.joined_at)),
    )
    worked, held = split_held(
        waiting,
        queue.episodes,
        pace,
        queue.order,
        at=now,
        min_overtaken=cfg.queues.held_back.min_overtaken,
        share=cfg.queues.held_back.share,
    )
    windows = start_windows(
        worked,
        pace,
        at=now,
        already_today=exits_today(queue.episodes, queue.name, now),
        paths=cfg.paths,
        horizon_days=cfg.horizon_days,
        quantiles=cfg.quantiles,
        seed=cfg.seed,
        rank_at=None if rank is None else (lambda e: rank(e, now)),
    )
    return QueueEstimate(queue, pace, waiting, windows, held)


def estimates(
    session: Session,
    *,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    engine: Engine,
    cfg: ForecastConfig,
) -> Estimates:
    longest = max(cfg.queues.discharge.window_days, cfg.queues.chc.window_days)
    since = day_bounds(london_date(now) - timedelta(days=max(longest, cfg.clearance.window_days)))[
        0
    ]
    queues = queues_of(
        session, organisation=organisation, since=since, now=now, ctx=ctx, engine=engine, cfg=cfg
    )
    chc = _chc(queues)
    return Estimates(
        organisation,
        now,
        [estimate(q, now=now, cfg=cfg) for q in queues],
        clearance_forecast.forecast(chc.episodes, at=now, cfg=cfg) if chc else None,
    )


def backtest(
    session: Session,
    *,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    engine: Engine,
    cfg: ForecastConfig,
) -> backtesting.Backtest:
    """The backtest over the configured past days (`app.forecast.backtest`)."""
    days = backtesting.as_at_days(london_date(now), cfg)
    longest = max(
        cfg.queues.discharge.window_days, cfg.queues.chc.window_days, cfg.clearance.window_days
    )
    since = day_bounds(days[0] - timedelta(days=longest))[0]
    queues = queues_of(
        session, organisation=organisation, since=since, now=now, ctx=ctx, engine=engine, cfg=cfg
    )
    chc = _chc(queues)
    return backtesting.run(
        {q.name: (q.episodes, q.order, q.rank, q.window_days) for q in queues},
        chc.episodes if chc else None,
        now=now,
        cfg=cfg,
    )


def _chc(queues: Sequence[Queue]) -> Queue | None:
    return next((q for q in queues if q.name == CHC_QUEUE), None)
