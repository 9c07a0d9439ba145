"""What a discharge spell's projection rows hold, derived from its facts, and how one new
criteria-to-reside or escalation entry changes them (`step`). Pure functions: the writing and
the session hooks are in `app.discharge.projection`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
from app.discharge.edd import EddSetting
from app.discharge.history import (
    CLEAR_ESCALATION,
    MEETS_AGAIN,
    NOT_MEETING,
    RAISE_ESCALATION,
    DischargeFacts,
    FamilyOf,
)
from app.models import Case
from app.timeutil import london_date

DELAY_LIST = "delay-reasons-acute"
# Entries that can usually be applied to the spell row as it is (see `step`).
STEP_EVENTS = frozenset({NOT_MEETING, MEETS_AGAIN, RAISE_ESCALATION, CLEAR_ESCALATION})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


def family_lookup(codes: CodeSetRegistry) -> FamilyOf:
    """(delay code, clinical time) -> the code's family in the list in force on that date."""

    def family(code: str, at: datetime) -> str | None:
        try:
            return codes.family_of(DELAY_LIST, code, london_date(at))
        except CodeSetNotFound:
            return None

    return family


def micros(at: datetime) -> int:
    """Whole microseconds since the Unix epoch: exact integer arithmetic in SQL and Python."""
    return (at - EPOCH) // _ONE_MICROSECOND


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


def spell_rows(
    case: Case,
    facts: DischargeFacts,
    ward: tuple[str | None, datetime | None],
    edds: Sequence[EddSetting] = (),
) -> SpellRows:
    """The spell row and delay-period rows of a case, from its facts, its latest ward (the
    ward named last in clinical time, and that time) and its expected discharge dates (in
    clinical order)."""
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
        "ward": ward[0],
        "ward_at": ward[1],
        "edd_day": edds[-1].expected.toordinal() if edds else None,
        "edd_at": edds[-1].at if edds else None,
        "first_edd_day": edds[0].expected.toordinal() if edds else None,
        "first_edd_at": edds[0].at if edds else None,
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
