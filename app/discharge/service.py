"""Read-side use cases: the Ready-for-Discharge list and one case's discharge facts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.cases.repository import CaseRepository
from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
from app.discharge.buckets import bucket_for
from app.discharge.config import DischargeConfig
from app.discharge.drd import OUTSIDE_COHORT, DrdResult, days_delayed, drd_cohort
from app.discharge.edd import EDD_EVENTS, edd_read, settings_of
from app.discharge.history import EVENTS_OF_INTEREST, DischargeFacts, derive_facts
from app.discharge.primary_reason import DelayPeriod, choose_primary_reason
from app.discharge.repository import WORKFLOW, DischargeRepository
from app.discharge.schemas import (
    CtrEntry,
    DelayRead,
    DischargeFactsRead,
    DrdCohortRead,
    PathwayChangeRead,
    PrimaryReasonRead,
    RfdList,
    RfdRow,
)
from app.engine.catalogue import PathwayCatalogue
from app.errors import NotFound, ValidationFailed
from app.models.spell import DischargeDelayPeriod, DischargeSpell
from app.timeutil import london_date

DELAY_LIST = "delay-reasons-acute"
RFD_TAG = "rfd-list"
SORTABLE = {
    "days_since_drd",
    "discharge_ready_date",
    "site",
    "ward",
    "pathway",
    "case_id",
    "length_of_stay_days",
    "hospital_system",
}


@dataclass(frozen=True)
class RfdFilter:
    site: str | None = None
    hospital_system: str | None = None
    ward: str | None = None
    pathway: str | None = None
    escalated: bool | None = None
    delay_code: str | None = None
    delay_family: str | None = None
    min_days: int | None = None


class DelayLabels:
    """Code labels and families from the list version in force at a clinical time."""

    def __init__(self, codes: CodeSetRegistry) -> None:
        self.codes = codes

    def entry(self, code: str, at: datetime) -> tuple[str | None, str | None]:
        try:
            found = self.codes.lookup(DELAY_LIST, code, london_date(at))
        except CodeSetNotFound:
            return None, None
        return (found.label, found.family) if found else (None, None)

    def family(self, code: str, at: datetime) -> str | None:
        return self.entry(code, at)[1]


def rfd_list(
    session: Session,
    *,
    catalogue: PathwayCatalogue,
    codes: CodeSetRegistry,
    config: DischargeConfig,
    flt: RfdFilter,
    sort: str,
    now: datetime,
    organisation: str,
    source: str = "projection",
) -> RfdList:
    """The patients in a Ready-for-Discharge state. Their facts come from the spell projection
    (`source="projection"`), or are derived from the events (`"events"`, the definition the
    projection is checked against)."""
    states = _rfd_states(catalogue)
    repo = DischargeRepository(session)
    limit = config.rfd_list_limit
    cases = repo.cases_in_states(
        states,
        organisation=organisation,
        site=flt.site,
        attributes={
            "ward": flt.ward,
            "hospital_system": flt.hospital_system,
            "pathway": flt.pathway,
        },
        limit=limit + 1,  # one more than shown: whether the list was cut
    )
    complete = len(cases) <= limit
    cases = cases[:limit]
    labels = DelayLabels(codes)
    facts_of = _facts_source(repo, [c.id for c in cases], labels, source)
    today = london_date(now)
    rows = []
    for case in cases:
        facts = facts_of(case.id)
        row = _row(
            case.id,
            case.patient_ref,
            case.site,
            case.state,
            case.attributes,
            facts,
            labels,
            config,
            now,
            today,
        )
        if _keep(row, flt):
            rows.append(row)
    return RfdList(as_of=now, count=len(rows), complete=complete, items=_sorted(rows, sort))


def _facts_source(
    repo: DischargeRepository, case_ids: list[int], labels: DelayLabels, source: str
) -> Callable[[int], DischargeFacts]:
    spells: dict[int, DischargeSpell] = {}
    periods: dict[int, list[DischargeDelayPeriod]] = {}
    if source == "projection":
        spells, periods = repo.projected(case_ids)
    missing = [cid for cid in case_ids if cid not in spells]
    events = repo.events_by_case(missing, EVENTS_OF_INTEREST)

    def facts(case_id: int) -> DischargeFacts:
        spell = spells.get(case_id)
        if spell is None:
            return derive_facts(events.get(case_id, []), labels.family)
        return _projected_facts(spell, periods.get(case_id, []))

    return facts


def _projected_facts(
    spell: DischargeSpell, open_periods: list[DischargeDelayPeriod]
) -> DischargeFacts:
    """What the Ready-for-Discharge list reads of a spell's facts, from its projection: the
    discharge-ready date, the open NCTR period's start and the open delay periods."""
    drd = date.fromordinal(spell.drd_day) if spell.drd_day is not None else None
    return DischargeFacts(
        drd=DrdResult(spell.nctr_last_start if drd else None, drd, []),
        ctr_log=[],
        delays=[
            DelayPeriod(p.code, p.family, p.started_at, p.ended_at, p.recorded_at, p.marked_primary)
            for p in open_periods
        ],
        delay_notes={
            (p.code, p.started_at): {
                "support_area": p.support_area,
                "delay_note": p.note,
                "codelist": p.codelist,
            }
            for p in open_periods
        },
        pathways=[],
        left_hospital_at=spell.left_at,
        discharged_at=spell.discharged_at,
        discharge_pathway=spell.discharge_pathway,
        escalated=spell.escalated,
    )


def discharge_facts(
    session: Session,
    *,
    case_id: int,
    codes: CodeSetRegistry,
    config: DischargeConfig,
    now: datetime,
) -> DischargeFactsRead:
    case = CaseRepository(session).get(case_id)
    if case is None or case.workflow_key != WORKFLOW:
        raise NotFound(f"discharge case {case_id} not found")
    labels = DelayLabels(codes)
    events = DischargeRepository(session).events_by_case([case_id], EVENTS_OF_INTEREST | EDD_EVENTS)
    mine = events.get(case_id, [])
    facts = derive_facts([e for e in mine if e.event in EVENTS_OF_INTEREST], labels.family)
    end = facts.left_hospital_at or now
    drd = facts.drd.discharge_ready_date
    return DischargeFactsRead(
        case_id=case.id,
        state=case.state,
        discharge_ready_date=drd,
        not_meeting_ctr_since=facts.drd.period_start,
        nctr_periods=facts.drd.nctr_periods,
        days_delayed=days_delayed(drd, london_date(end)) if drd else None,
        ctr_log=[
            CtrEntry(effective_at=c.effective_at, recorded_at=c.recorded_at, meets_criteria=c.meets)
            for c in facts.ctr_log
        ],
        delays=[_delay(p, facts, labels) for p in facts.delays],
        primary_reason=_primary(facts.delays, end, labels, config),
        planned_pathway=case.attributes.get("pathway"),
        discharge_pathway=case.attributes.get("discharge_pathway"),
        pathway_history=[PathwayChangeRead(**p.__dict__) for p in facts.pathways],
        left_hospital_at=facts.left_hospital_at,
        drd_cohort=cohort_read(case.attributes.get("admitted_at"), facts),
        expected_discharge=edd_read(settings_of(mine), facts.left_hospital_at, now),
    )


NOT_DISCHARGED = "not_discharged"
BUCKET_NAMES = {
    "0": "No delay between DoD & DRD (same day)",
    "1": "1 day delay between DoD & DRD",
    "2-3": "2-3 day delay between DoD & DRD",
    "4-6": "4-6 day delay between DoD & DRD",
    "7-13": "7-13 day delay between DoD & DRD",
    "14-20": "14-20 day delay between DoD & DRD",
    "21+": "21+ day delay between DoD & DRD",
}


def cohort_read(admitted_raw: str | None, facts: DischargeFacts) -> DrdCohortRead:
    """The spell's national DRD bucket, or why it is outside the DRD measures."""
    if facts.discharged_at is None or admitted_raw is None:
        why = (
            "still in hospital"
            if facts.left_hospital_at is None
            else "left other than by discharge"
        )
        return DrdCohortRead(
            in_cohort=False,
            delay_days=None,
            bucket=None,
            bucket_name=None,
            not_in_cohort_because=NOT_DISCHARGED,
            explanation=f"not discharged ({why}): only discharges are in the DRD measures",
        )
    place = drd_cohort(
        london_date(datetime.fromisoformat(admitted_raw)),
        london_date(facts.discharged_at),
        facts.drd.discharge_ready_date,
    )
    if place.delay_days is None:
        why = place.outside_because or ""
        return DrdCohortRead(
            in_cohort=False,
            delay_days=None,
            bucket=None,
            bucket_name=None,
            not_in_cohort_because=why,
            explanation=OUTSIDE_COHORT.get(why),
        )
    bucket = bucket_for(place.delay_days)
    return DrdCohortRead(
        in_cohort=True,
        delay_days=place.delay_days,
        bucket=bucket,
        bucket_name=BUCKET_NAMES[bucket],
        not_in_cohort_because=None,
        explanation=None,
    )


def parse_sort(sort: str) -> str:
    if sort.lstrip("-") not in SORTABLE:
        raise ValidationFailed(f"cannot sort by {sort!r}", sortable=sorted(SORTABLE))
    return sort


def _rfd_states(catalogue: PathwayCatalogue) -> list[str]:
    states = {
        s.name
        for v in catalogue.versions(WORKFLOW)
        if (p := catalogue.get(WORKFLOW, v))
        for s in p.spec.states
        if RFD_TAG in s.tags
    }
    return sorted(states)


def _row(
    case_id: int,
    nhs: str | None,
    site: str | None,
    state: str,
    attrs: dict[str, Any],
    facts: DischargeFacts,
    labels: DelayLabels,
    config: DischargeConfig,
    now: datetime,
    today: date,
) -> RfdRow:
    drd = facts.drd.discharge_ready_date
    admitted = attrs.get("admitted_at")
    open_delays = [p for p in facts.delays if p.ended_at is None]
    return RfdRow(
        case_id=case_id,
        nhs_number=nhs,
        hospital_system=attrs.get("hospital_system"),
        site=site,
        ward=attrs.get("ward"),
        state=state,
        pathway=attrs.get("pathway"),
        discharge_ready_date=drd,
        not_meeting_ctr_since=facts.drd.period_start,
        days_since_drd=days_delayed(drd, today) if drd and drd <= today else (0 if drd else None),
        length_of_stay_days=(today - london_date(datetime.fromisoformat(admitted))).days
        if admitted
        else None,
        delays=[_delay(p, facts, labels) for p in open_delays],
        primary_reason=_primary(open_delays, now, labels, config),
        escalated=bool(attrs.get("escalated")),
        escalation_reason=attrs.get("escalation_reason"),
        responsible_person=attrs.get("responsible_person"),
        expected_discharge_date=attrs.get("expected_discharge_date"),
    )


def _delay(p: DelayPeriod, facts: DischargeFacts, labels: DelayLabels) -> DelayRead:
    label, family = labels.entry(p.code, p.started_at)
    notes = facts.delay_notes.get((p.code, p.started_at), {})
    return DelayRead(
        code=p.code,
        label=label,
        family=family,
        codelist=notes.get("codelist"),
        started_at=p.started_at,
        ended_at=p.ended_at,
        marked_primary=p.marked_primary,
        support_area=notes.get("support_area"),
        note=notes.get("delay_note"),
    )


def _primary(
    periods: list[DelayPeriod], as_at: datetime, labels: DelayLabels, config: DischargeConfig
) -> PrimaryReasonRead | None:
    # A period that ended exactly at discharge still counts at that instant for a finished spell.
    live = [
        DelayPeriod(p.code, p.family, p.started_at, None, p.recorded_at, p.marked_primary)
        if p.ended_at == as_at
        else p
        for p in periods
    ]
    choice = choose_primary_reason(
        live, as_at=as_at, family_precedence=config.primary_reason_family_precedence
    )
    if choice is None:
        return None
    label, family = labels.entry(choice.period.code, choice.period.started_at)
    return PrimaryReasonRead(code=choice.period.code, label=label, family=family, rule=choice.rule)


def _keep(row: RfdRow, flt: RfdFilter) -> bool:
    checks = [
        flt.hospital_system is None or row.hospital_system == flt.hospital_system,
        flt.ward is None or row.ward == flt.ward,
        flt.pathway is None or row.pathway == flt.pathway,
        flt.escalated is None or row.escalated == flt.escalated,
        flt.delay_code is None or any(d.code == flt.delay_code for d in row.delays),
        flt.delay_family is None or any(d.family == flt.delay_family for d in row.delays),
        flt.min_days is None or (row.days_since_drd or 0) >= flt.min_days,
    ]
    return all(checks)


def _sorted(rows: list[RfdRow], sort: str) -> list[RfdRow]:
    key = sort.lstrip("-")
    descending = sort.startswith("-")
    present = [r for r in rows if getattr(r, key) is not None]
    missing = [r for r in rows if getattr(r, key) is None]
    present.sort(key=lambda r: r.case_id)
    present.sort(key=lambda r: getattr(r, key), reverse=descending)
    return present + sorted(missing, key=lambda r: r.case_id)
