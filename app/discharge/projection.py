"""Keeps the discharge spell projection (`discharge_spells`, `discharge_delay_periods`) in step
with the discharge case events, inside the transaction that writes them.

Every path that writes a discharge event (the case API, effects, the demo loader, imports) goes
through a SQLAlchemy session, so the projection is maintained by session hooks rather than by
each caller: `before_flush` notes which discharge cases changed in a way the figures can see,
and `before_commit` rewrites those cases' rows from their events with `derive_facts`, the same
derivation the plain reports use. A transaction that rolls back takes its projection rows
with it; one that commits cannot leave them stale.

What is re-derived depends on the change, so a routine detail update costs nothing:

- a new criteria-to-reside, escalation or leaving-hospital event: the spell row (one read of
  the case's events of interest, one upsert);
- a delay event, or an event that closes every delay: the spell row and its delay periods;
- a change of site, admission time, hospital system, ownership or a close of the case with no
  such event: the case's own columns only (one UPDATE).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, insert, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.codelists.loader import CodeSetRegistry
from app.discharge.history import (
    CLEAR_ESCALATION,
    CLOSES_ALL_DELAYS,
    END_DELAY,
    EVENTS_OF_INTEREST,
    LEAVES_HOSPITAL,
    MEETS_AGAIN,
    NOT_MEETING,
    OPEN_DELAY,
    RAISE_ESCALATION,
    SET_PRIMARY,
    FamilyOf,
    derive_facts,
)
from app.discharge.spell_rows import (
    STEP_EVENTS,
    case_columns,
    family_lookup,
    spell_rows,
    step,
)
from app.models import Case, CaseEvent
from app.models.spell import DischargeDelayPeriod, DischargeSpell

WORKFLOW = "discharge"
# session.info keys: the code lists to take delay families from, and the cases to re-derive.
CODES_KEY = "homefirst.codes"
_PENDING = "homefirst.discharge_spells_pending"
# Set only by the benchmark, to measure what keeping the projection costs a transition.
SKIP_KEY = "homefirst.skip_discharge_projection"

CASE_COLUMNS, STEP, FACTS, FACTS_AND_PERIODS = 1, 2, 3, 4
_STEPS = "homefirst.discharge_spell_steps"
FACT_EVENTS = frozenset({NOT_MEETING, MEETS_AGAIN, RAISE_ESCALATION, CLEAR_ESCALATION}) | (
    LEAVES_HOSPITAL
)
PERIOD_EVENTS = frozenset({OPEN_DELAY, END_DELAY, SET_PRIMARY}) | CLOSES_ALL_DELAYS
TRACKED_CASE_FIELDS = ("organisation", "site", "opened_at", "closed_at")
TRACKED_ATTRIBUTES = ("admitted_at", "hospital_system")

_events = CaseEvent.__table__
_EVENT_COLUMNS = (
    _events.c.case_id,
    _events.c.seq,
    _events.c.event,
    _events.c.occurred_at,
    _events.c.recorded_at,
    _events.c.data,
    _events.c.actor_username,
    _events.c.reason,
)


@lru_cache
def _default_codes(codelists: Path) -> CodeSetRegistry:
    return CodeSetRegistry.from_directory(codelists)


def _family_of(session: Session) -> FamilyOf:
    codes = session.info.get(CODES_KEY)
    if codes is None:
        from app.config import get_settings

        codes = _default_codes(get_settings().pathways_dir / "codelists")
    return family_lookup(codes)


# -- writing -------------------------------------------------------------------------------------
def refresh(session: Session, levels: dict[int, int], family_of: FamilyOf) -> None:
    """Rewrite the projection rows of the given cases (case id -> what changed)."""
    column_only = [cid for cid, level in levels.items() if level == CASE_COLUMNS]
    for case_id in column_only:
        case = session.get(Case, case_id)
        if case is None:
            continue
        stmt = (
            update(DischargeSpell)
            .where(DischargeSpell.case_id == case_id)
            .values(**case_columns(case))
            .execution_options(synchronize_session=False)
        )
        if session.execute(stmt).rowcount == 0:  # type: ignore[attr-defined]
            levels[case_id] = FACTS_AND_PERIODS  # no row yet: derive it whole
    steps: dict[int, tuple[str, datetime]] = session.info.pop(_STEPS, {})
    for case_id in [cid for cid, level in levels.items() if level == STEP]:
        if not _apply_step(session, case_id, steps.get(case_id)):
            levels[case_id] = FACTS_AND_PERIODS  # the events decide
    derive = {cid: level for cid, level in levels.items() if level > STEP}
    if not derive:
        return
    events = _events_of_interest(session, sorted(derive))
    for case_id, level in derive.items():
        case = session.get(Case, case_id)
        if case is None:
            continue
        rows = spell_rows(case, derive_facts(events.get(case_id, []), family_of))
        _upsert_spell(session, rows.spell)
        if level == FACTS_AND_PERIODS:
            session.execute(
                delete(DischargeDelayPeriod).where(DischargeDelayPeriod.case_id == case_id)
            )
            if rows.periods:
                session.execute(insert(DischargeDelayPeriod), rows.periods)


def _apply_step(session: Session, case_id: int, entry: tuple[str, datetime] | None) -> bool:
    """Apply one new criteria-to-reside or escalation entry to the spell row without reading
    the events; False when the row cannot tell (then the events are derived again)."""
    case = session.get(Case, case_id)
    row = session.execute(
        select(DischargeSpell.__table__).where(DischargeSpell.case_id == case_id)
    ).first()
    if case is None or row is None or entry is None:
        return False
    changed = step(row, *entry)
    if changed is None:
        return False
    session.execute(
        update(DischargeSpell)
        .where(DischargeSpell.case_id == case_id)
        .values(**case_columns(case), **changed)
        .execution_options(synchronize_session=False)
    )
    return True


def _events_of_interest(session: Session, case_ids: Sequence[int]) -> dict[int, list[Any]]:
    stmt = (
        select(*_EVENT_COLUMNS)
        .where(_events.c.case_id.in_(case_ids), _events.c.event.in_(sorted(EVENTS_OF_INTEREST)))
        .order_by(_events.c.case_id, _events.c.seq)
    )
    out: dict[int, list[Any]] = {}
    for row in session.execute(stmt):
        out.setdefault(row.case_id, []).append(row)
    return out


def _upsert_spell(session: Session, values: dict[str, Any]) -> None:
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = upsert(DischargeSpell).values(**values)
    changed = {k: stmt.excluded[k] for k in values if k != "case_id"}
    session.execute(stmt.on_conflict_do_update(index_elements=["case_id"], set_=changed))


def rebuild(session: Session, family_of: FamilyOf) -> int:
    """Derive every discharge case's rows again from its events; returns the spells written.

    Used after a change of the delay code lists (a family is taken from the list in force on the
    period's date) and by the migration that created the tables. The caller commits."""
    session.execute(delete(DischargeDelayPeriod))
    session.execute(delete(DischargeSpell))
    return derive_missing(session, family_of)


def derive_missing(session: Session, family_of: FamilyOf) -> int:
    """Derive the rows of the discharge cases that have none (after a bulk load that bypassed
    the service); returns the spells written. The caller commits."""
    missing = (
        select(Case.id)
        .outerjoin(DischargeSpell, DischargeSpell.case_id == Case.id)
        .where(Case.workflow_key == WORKFLOW, DischargeSpell.case_id.is_(None))
        .order_by(Case.id)
    )
    return _derive(session, list(session.execute(missing).scalars()), family_of)


def _derive(session: Session, ids: list[int], family_of: FamilyOf, batch: int = 2000) -> int:
    """Insert the rows of the given cases (which have none), a batch at a time."""
    written = 0
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        cases = session.execute(select(Case).where(Case.id.in_(chunk))).scalars().all()
        events = _events_of_interest(session, chunk)
        spells, periods = [], []
        for case in cases:
            rows = spell_rows(case, derive_facts(events.get(case.id, []), family_of))
            spells.append(rows.spell)
            periods.extend(rows.periods)
        if spells:
            session.execute(insert(DischargeSpell), spells)
        if periods:
            session.execute(insert(DischargeDelayPeriod), periods)
        written += len(spells)
        session.expunge_all()
    return written


def rebuild_with(session: Session, codes: CodeSetRegistry) -> int:
    return rebuild(session, family_lookup(codes))


# -- the session hooks ---------------------------------------------------------------------------
def _note(session: Session, case_id: int, level: int) -> None:
    pending: dict[int, int] = session.info.setdefault(_PENDING, {})
    pending[case_id] = max(pending.get(case_id, 0), level)


def _tracked_change(case: Case) -> bool:
    state = inspect(case)
    if any(state.attrs[name].history.has_changes() for name in TRACKED_CASE_FIELDS):
        return True
    history = state.attrs["attributes"].history
    if not history.has_changes():
        return False
    before = (history.deleted or [None])[0] or {}
    after = (history.added or [None])[0] or {}
    return any(before.get(k) != after.get(k) for k in TRACKED_ATTRIBUTES)


@event.listens_for(Session, "before_flush")
def _note_changes(session: Session, _flush_context: Any, _instances: Any) -> None:
    if session.info.get(SKIP_KEY):
        return
    for obj in session.new:
        if isinstance(obj, CaseEvent) and obj.pathway_key == WORKFLOW:
            steps: dict[int, Any] = session.info.setdefault(_STEPS, {})
            if obj.case_id in steps:  # a second entry in one transaction: the events decide
                _note(session, obj.case_id, FACTS_AND_PERIODS)
            if obj.seq == 1 or (obj.event in PERIOD_EVENTS and obj.event not in STEP_EVENTS):
                _note(session, obj.case_id, FACTS_AND_PERIODS)
            elif obj.event in STEP_EVENTS:
                steps[obj.case_id] = (obj.event, obj.occurred_at)
                _note(session, obj.case_id, STEP)
            elif obj.event in FACT_EVENTS:
                _note(session, obj.case_id, FACTS)
    for obj in session.dirty:
        if isinstance(obj, Case) and obj.workflow_key == WORKFLOW and _tracked_change(obj):
            _note(session, obj.id, CASE_COLUMNS)


@event.listens_for(Session, "before_commit")
def _refresh_pending(session: Session) -> None:
    if session.info.get(SKIP_KEY):
        return
    if not session.info.get(_PENDING) and not session.new and not session.dirty:
        return
    session.flush()  # runs before_flush for what is still pending, so nothing is missed
    pending = session.info.pop(_PENDING, None)
    if pending:
        refresh(session, pending, _family_of(session))


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_STEPS, None)


def rebuild_default(session: Session) -> int:
    """`rebuild` with the code lists of the configured pathways directory."""
    return rebuild(session, _family_of(session))


def derive_missing_default(session: Session) -> int:
    """`derive_missing` with the code lists of the configured pathways directory."""
    return derive_missing(session, _family_of(session))


def rederive(session: Session, case_ids: Sequence[int]) -> int:
    """Derive the rows of the given discharge cases again from their events (after writes
    that bypassed the service); returns the spells written. The caller commits."""
    ids = list(case_ids)
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        session.execute(delete(DischargeDelayPeriod).where(DischargeDelayPeriod.case_id.in_(chunk)))
        session.execute(delete(DischargeSpell).where(DischargeSpell.case_id.in_(chunk)))
    discharge = select(Case.id).where(Case.id.in_(ids), Case.workflow_key == WORKFLOW)
    return _derive(session, list(session.execute(discharge).scalars()), _family_of(session))
