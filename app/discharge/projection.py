"""The discharge spell projection (`discharge_spells`, `discharge_delay_periods`) as a read
model: each discharge case's derived facts, kept in the transaction that writes its events.

The transition entry point calls `DischargeSpells.project` after every discharge state change,
with the case, the new event and what the change touched; the rows are rewritten with
`derive_facts`, the same derivation the plain reports use. A transaction that rolls back takes
its projection rows with it; one that commits cannot leave them stale.

What is re-derived depends on the change, so a routine detail update costs nothing (one that
names a ward, or a ward transfer, or sets an expected discharge date costs one conditional
UPDATE of those columns):

- a new criteria-to-reside or escalation entry: applied to the spell row as one step when the
  row can tell (one read, one UPDATE), else as below;
- a leaving-hospital event: the spell row (one read of the case's events of interest, one upsert);
- a delay event, an event that closes every delay, or the case's first event: the spell row and
  its delay periods;
- a change of site, admission time, hospital system or a close of the case with no such event:
  the case's own columns only (one UPDATE).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import case as when
from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.codelists.loader import CodeSetRegistry
from app.discharge.edd import EDD, EDD_EVENTS, settings_of
from app.discharge.history import (
    CANCEL_DISCHARGE,
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
    SpellRows,
    case_columns,
    family_lookup,
    spell_rows,
    step,
)
from app.discharge.wards import WARD_EVENTS, latest_ward
from app.engine.readmodels import Change
from app.models import Case, CaseEvent
from app.models.spell import DischargeDelayPeriod, DischargeSpell

WORKFLOW = "discharge"

CASE_COLUMNS, STEP, FACTS, FACTS_AND_PERIODS = 1, 2, 3, 4
FACT_EVENTS = frozenset(
    {NOT_MEETING, MEETS_AGAIN, RAISE_ESCALATION, CLEAR_ESCALATION, CANCEL_DISCHARGE}
) | (LEAVES_HOSPITAL)
PERIOD_EVENTS = frozenset({OPEN_DELAY, END_DELAY, SET_PRIMARY}) | CLOSES_ALL_DELAYS
# What the spell row copies from the case: a change to any of these rewrites those columns.
TRACKED = (
    "organisation",
    "site",
    "opened_at",
    "closed_at",
    "attributes.admitted_at",
    "attributes.hospital_system",
)

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


def _family_of() -> FamilyOf:
    """Delay families from the code lists of the configured pathways directory (for callers
    with no application at hand: the migration that created the tables, the benchmark)."""
    from app.config import get_settings

    return family_lookup(_default_codes(get_settings().pathways_dir / "codelists"))


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
    derive = {cid: level for cid, level in levels.items() if level > STEP}
    if not derive:
        return
    events = _events_of_interest(session, sorted(derive))
    for case_id, level in derive.items():
        case = session.get(Case, case_id)
        if case is None:
            continue
        rows = _rows(case, events.get(case_id, []), family_of)
        _upsert_spell(session, rows.spell)
        if level == FACTS_AND_PERIODS:
            session.execute(
                delete(DischargeDelayPeriod).where(DischargeDelayPeriod.case_id == case_id)
            )
            if rows.periods:
                session.execute(insert(DischargeDelayPeriod), rows.periods)


def _apply_step(session: Session, case: Case, entry: tuple[str, datetime]) -> bool:
    """Apply one new criteria-to-reside or escalation entry to the spell row without reading
    the events; False when the row cannot tell (then the events are derived again)."""
    case_id = case.id
    row = session.execute(
        select(DischargeSpell.__table__).where(DischargeSpell.case_id == case_id)
    ).first()
    if row is None:
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


def _rows(case: Case, events: list[Any], family_of: FamilyOf) -> SpellRows:
    facts = derive_facts([e for e in events if e.event in EVENTS_OF_INTEREST], family_of)
    return spell_rows(case, facts, latest_ward(events), settings_of(events))


def named_ward(event: CaseEvent) -> str | None:
    """The ward an event names, if it is one that can (app.discharge.wards)."""
    ward = (event.data or {}).get("ward") if event.event in WARD_EVENTS else None
    return ward if isinstance(ward, str) and ward else None


def named_edd(event: CaseEvent) -> date | None:
    """The expected discharge date an event sets, if it is one that can (app.discharge.edd)."""
    raw = (event.data or {}).get(EDD) if event.event in EDD_EVENTS else None
    return date.fromisoformat(raw) if isinstance(raw, str) and raw else None


def _apply_named(
    session: Session, case_id: int, at: datetime, *, ward: str | None, edd: date | None
) -> None:
    """One conditional UPDATE for what an entry at clinical time `at` names. Its ward, or its
    expected discharge date, becomes the one in force unless a later entry named one already
    (the new entry is the last recorded, so it wins a tie); its EDD becomes the first one if
    none was set earlier."""
    s = DischargeSpell
    later_or_none = s.ward_at.is_(None) | (s.ward_at <= at)
    values: dict[str, Any] = {}
    if ward is not None:
        values |= {
            "ward": when((later_or_none, ward), else_=s.ward),
            "ward_at": when((later_or_none, at), else_=s.ward_at),
        }
    if edd is not None:
        in_force = s.edd_at.is_(None) | (s.edd_at <= at)
        first = s.first_edd_at.is_(None) | (s.first_edd_at > at)
        values |= {
            "edd_day": when((in_force, edd.toordinal()), else_=s.edd_day),
            "edd_at": when((in_force, at), else_=s.edd_at),
            "first_edd_day": when((first, edd.toordinal()), else_=s.first_edd_day),
            "first_edd_at": when((first, at), else_=s.first_edd_at),
        }
    session.execute(
        update(s)
        .where(s.case_id == case_id)
        .values(values)
        .execution_options(synchronize_session=False)
    )


def _events_of_interest(session: Session, case_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Each case's events that its facts, its ward or its expected discharge dates derive
    from, in log order."""
    stmt = (
        select(*_EVENT_COLUMNS)
        .where(
            _events.c.case_id.in_(case_ids),
            _events.c.event.in_(sorted(EVENTS_OF_INTEREST | WARD_EVENTS | EDD_EVENTS)),
        )
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
            rows = _rows(case, events.get(case.id, []), family_of)
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


# -- the read model ---------------------------------------------------------------------------
def level_of(change: Change) -> int:
    """How much of the case's rows this change can alter (0: nothing)."""
    event = change.event
    if change.opened or (event.event in PERIOD_EVENTS and event.event not in STEP_EVENTS):
        return FACTS_AND_PERIODS
    if event.event in STEP_EVENTS:
        return STEP
    if event.event in FACT_EVENTS:
        return FACTS
    if change.touches(*TRACKED):
        return CASE_COLUMNS
    return 0


class DischargeSpells:
    """The read model of the discharge workflow (see the module's docstring)."""

    name = "discharge_spells"
    workflows = frozenset({WORKFLOW})

    def __init__(self, codes: CodeSetRegistry) -> None:
        self.family_of = family_lookup(codes)

    def project(self, session: Session, change: Change) -> None:
        level = level_of(change)
        if level < FACTS:
            ward, edd = named_ward(change.event), named_edd(change.event)
            if ward is not None or edd is not None:
                at = change.event.occurred_at
                _apply_named(session, change.case.id, at, ward=ward, edd=edd)
        if level == 0:
            return
        case_id = change.case.id
        if level == STEP and _apply_step(
            session, change.case, (change.event.event, change.event.occurred_at)
        ):
            return
        # A step the row cannot tell is derived again from the events, periods included.
        refresh(session, {case_id: FACTS_AND_PERIODS if level == STEP else level}, self.family_of)

    def rebuild(self, session: Session, *, now: datetime) -> int:  # noqa: ARG002 - events only
        return rebuild(session, self.family_of)

    def check(self, session: Session, *, now: datetime) -> list[str]:  # noqa: ARG002
        return differences(session, self.family_of)

    def tick(self, session: Session, *, now: datetime) -> int:  # noqa: ARG002 - no time part
        return 0


def rebuild_default(session: Session) -> int:
    """`rebuild` with the code lists of the configured pathways directory."""
    return rebuild(session, _family_of())


def derive_missing_default(session: Session) -> int:
    """`derive_missing` with the code lists of the configured pathways directory."""
    return derive_missing(session, _family_of())


def rederive(session: Session, case_ids: Sequence[int]) -> int:
    """Derive the rows of the given discharge cases again from their events (after writes
    that bypassed the service); returns the spells written. The caller commits."""
    ids = list(case_ids)
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        session.execute(delete(DischargeDelayPeriod).where(DischargeDelayPeriod.case_id.in_(chunk)))
        session.execute(delete(DischargeSpell).where(DischargeSpell.case_id.in_(chunk)))
    discharge = select(Case.id).where(Case.id.in_(ids), Case.workflow_key == WORKFLOW)
    return _derive(session, list(session.execute(discharge).scalars()), _family_of())


def differences(session: Session, family_of: FamilyOf, batch: int = 2000) -> list[str]:
    """Every discharge case whose stored rows differ from the rows its events derive."""
    ids = list(
        session.execute(
            select(Case.id).where(Case.workflow_key == WORKFLOW).order_by(Case.id)
        ).scalars()
    )
    out: list[str] = []
    spells = DischargeSpell.__table__
    periods = DischargeDelayPeriod.__table__
    stray = session.execute(
        select(spells.c.case_id)
        .outerjoin(Case, Case.id == spells.c.case_id)
        .where((Case.id.is_(None)) | (Case.workflow_key != WORKFLOW))
    ).scalars()
    out += [f"spell row {cid}: no discharge case" for cid in stray]
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        cases = session.execute(select(Case).where(Case.id.in_(chunk))).scalars().all()
        events = _events_of_interest(session, chunk)
        stored = {
            row.case_id: dict(row._mapping)
            for row in session.execute(select(spells).where(spells.c.case_id.in_(chunk)))
        }
        stored_periods: dict[int, list[dict[str, Any]]] = {}
        for row in session.execute(
            select(periods)
            .where(periods.c.case_id.in_(chunk))
            .order_by(periods.c.case_id, periods.c.ordinal)
        ):
            stored_periods.setdefault(row.case_id, []).append(dict(row._mapping))
        for case in cases:
            rows = _rows(case, events.get(case.id, []), family_of)
            have = stored.get(case.id)
            if have is None:
                out.append(f"discharge case {case.id}: no spell row")
                continue
            for name, value in rows.spell.items():
                if have.get(name) != value:
                    out.append(
                        f"discharge case {case.id}: {name} is {have.get(name)!r}, "
                        f"its events give {value!r}"
                    )
            expected = sorted(rows.periods, key=lambda p: int(p["ordinal"]))
            kept = stored_periods.get(case.id, [])
            if expected != kept:
                out.append(
                    f"discharge case {case.id}: delay periods {kept!r}, "
                    f"its events give {expected!r}"
                )
        session.expunge_all()
    return out
