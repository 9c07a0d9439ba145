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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, insert, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.calc.drd import london_date
from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
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
    DischargeFacts,
    FamilyOf,
    derive_facts,
)
from app.models import Case, CaseEvent
from app.models.spell import DischargeDelayPeriod, DischargeSpell

WORKFLOW = "discharge"
DELAY_LIST = "delay-reasons-acute"
# session.info keys: the code lists to take delay families from, and the cases to re-derive.
CODES_KEY = "homefirst.codes"
_PENDING = "homefirst.discharge_spells_pending"
# Set only by the benchmark, to measure what keeping the projection costs a transition.
SKIP_KEY = "homefirst.skip_discharge_projection"

CASE_COLUMNS, STEP, FACTS, FACTS_AND_PERIODS = 1, 2, 3, 4
# Entries that can usually be applied to the spell row as it is (see `step`).
STEP_EVENTS = frozenset({NOT_MEETING, MEETS_AGAIN, RAISE_ESCALATION, CLEAR_ESCALATION})
_STEPS = "homefirst.discharge_spell_steps"
FACT_EVENTS = frozenset({NOT_MEETING, MEETS_AGAIN, RAISE_ESCALATION, CLEAR_ESCALATION}) | (
    LEAVES_HOSPITAL
)
PERIOD_EVENTS = frozenset({OPEN_DELAY, END_DELAY, SET_PRIMARY}) | CLOSES_ALL_DELAYS
TRACKED_CASE_FIELDS = ("organisation", "site", "opened_at", "closed_at")
TRACKED_ATTRIBUTES = ("admitted_at", "hospital_system")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)

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


def family_lookup(codes: CodeSetRegistry) -> FamilyOf:
    """(delay code, clinical time) -> the code's family in the list in force on that date."""

    def family(code: str, at: datetime) -> str | None:
        try:
            return codes.family_of(DELAY_LIST, code, london_date(at))
        except CodeSetNotFound:
            return None

    return family


@lru_cache
def _default_codes(codelists: Path) -> CodeSetRegistry:
    return CodeSetRegistry.from_directory(codelists)


def _family_of(session: Session) -> FamilyOf:
    codes = session.info.get(CODES_KEY)
    if codes is None:
        from app.config import get_settings

        codes = _default_codes(get_settings().pathways_dir / "codelists")
    return family_lookup(codes)


def micros(at: datetime) -> int:
    """Whole microseconds since the Unix epoch: exact integer arithmetic in SQL and Python."""
    return (at - EPOCH) // _ONE_MICROSECOND


# -- what a spell's rows hold ---------------------------------------------------------------------
@dataclass(frozen=True)
class SpellRows:
    spell: dict[str, Any]
    periods: list[dict[str, Any]]


def case_columns(case: Case) -> dict[str, Any]:
    admitted_raw = (case.attributes or {}).get("admitted_at")
    admitted = datetime.fromisoformat(admitted_raw) if admitted_raw else None
    return {
        "organisation": case.organisation,
        "site": case.site,
        "hospital_system": (case.attributes or {}).get("hospital_system"),
        "opened_at": case.opened_at,
        "closed_at": case.closed_at,
        "admitted_at": admitted,
        "admitted_day": london_date(admitted).toordinal() if admitted else None,
    }


def spell_rows(case: Case, facts: DischargeFacts) -> SpellRows:
    periods = facts.drd.nctr_periods
    last_start, last_end = periods[-1] if periods else (None, None)
    drd = facts.drd.discharge_ready_date
    spell = {
        "case_id": case.id,
        **case_columns(case),
        "left_at": facts.left_hospital_at,
        "discharged_at": facts.discharged_at,
        "discharged_day": (
            london_date(facts.discharged_at).toordinal() if facts.discharged_at else None
        ),
        "discharge_pathway": facts.discharge_pathway,
        "drd_day": drd.toordinal() if drd else None,
        "nctr_last_start": last_start,
        "nctr_last_end": last_end,
        "escalated": facts.escalated,
        "ctr_last_at": max((c.effective_at for c in facts.ctr_log), default=None),
        "open_delays": sum(1 for p in facts.delays if p.ended_at is None),
    }
    rows = []
    for ordinal, period in enumerate(facts.delays):
        note = facts.delay_notes.get((period.code, period.started_at), {})
        rows.append(
            {
                "case_id": case.id,
                "ordinal": ordinal,
                "code": period.code,
                "family": period.family,
                "started_at": period.started_at,
                "ended_at": period.ended_at,
                "recorded_at": period.recorded_at,
                "marked_primary": period.marked_primary,
                # The report shows an empty area as "not recorded", as for a missing one.
                "support_area": note.get("support_area") or None,
                "note": note.get("delay_note"),
                "codelist": note.get("codelist"),
                "started_us": micros(period.started_at),
                "ended_us": micros(period.ended_at) if period.ended_at else None,
            }
        )
    return SpellRows(spell, rows)


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


def step(row: Any, event: str, at: datetime) -> dict[str, Any] | None:
    """The spell row's new values after one entry appended to the log, or None when only the
    events can say. Mirrors `derive_facts` and the final-period rule of `derive_drd`:

    - escalation: the latest entry wins, whatever its clinical time;
    - a criteria-to-reside entry at or after every earlier one (ties keep log order): not
      meeting opens a period unless one is open; meeting again closes the open one. A period
      closed at the instant it opened is dropped (the row no longer knows the one before),
      and meeting again with delays open must close them: both go back to the events. So does
      a backdated entry, or one for a patient who has left.
    """
    if event in (RAISE_ESCALATION, CLEAR_ESCALATION):
        return {"escalated": event == RAISE_ESCALATION}
    if row.left_at is not None or (row.ctr_last_at is not None and at < row.ctr_last_at):
        return None
    is_open = row.nctr_last_start is not None and row.nctr_last_end is None
    if event == NOT_MEETING:
        if is_open:
            return {"ctr_last_at": at}
        return {
            "ctr_last_at": at,
            "nctr_last_start": at,
            "nctr_last_end": None,
            "drd_day": london_date(at).toordinal(),
        }
    if event == MEETS_AGAIN:
        if row.open_delays:
            return None
        if not is_open:
            return {"ctr_last_at": at}
        if at <= row.nctr_last_start:
            return None
        return {"ctr_last_at": at, "nctr_last_end": at, "drd_day": None}
    return None


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


def derive_missing(session: Session, family_of: FamilyOf, *, batch: int = 2000) -> int:
    """Derive the rows of the discharge cases that have none (after a bulk load that bypassed
    the service); returns the spells written. The caller commits."""
    missing = (
        select(Case.id)
        .outerjoin(DischargeSpell, DischargeSpell.case_id == Case.id)
        .where(Case.workflow_key == WORKFLOW, DischargeSpell.case_id.is_(None))
        .order_by(Case.id)
    )
    ids = list(session.execute(missing).scalars())
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
    return derive_missing_default(session)
