"""SQL for the pathway-fit audit: the cohort of discharges, and the later records of the same
patients (their IC episodes, hospital spells and deaths). Everything read is scoped to the
cases the reader's organisation owns or has shared with it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.cases.scope import visible_to
from app.models import Case, CaseEvent, CaseLink, DischargeSpell
from app.pathway_fit.derive import Admission, Discharge, Episode

DISCHARGE = "discharge"
INTERMEDIATE_CARE = "intermediate_care"
CHUNK = 500


def _chunks(values: Sequence[Any]) -> Iterator[list[Any]]:
    for i in range(0, len(values), CHUNK):
        yield list(values[i : i + CHUNK])


class PathwayFitRepository:
    def __init__(self, session: Session, organisation: str) -> None:
        self.session = session
        self.organisation = organisation

    def _scoped(self, stmt: Select[Any]) -> Select[Any]:
        return stmt.where(visible_to(self.organisation))

    def discharges(self, start: datetime, end: datetime, site: str | None) -> list[Discharge]:
        """Discharge cases discharged in [start, end) (the spell read model's discharge time)."""
        stmt = (
            select(Case, DischargeSpell)
            .join(DischargeSpell, DischargeSpell.case_id == Case.id)
            .where(
                Case.workflow_key == DISCHARGE,
                DischargeSpell.discharged_at >= start,
                DischargeSpell.discharged_at < end,
            )
            .order_by(DischargeSpell.discharged_at, Case.id)
        )
        if site is not None:
            stmt = stmt.where(Case.site == site)
        out = []
        for case, spell in self.session.execute(self._scoped(stmt)).all():
            assert spell.discharged_at is not None  # noqa: S101 - filtered above
            code = case.attributes.get("destination_code")
            out.append(
                Discharge(
                    case_id=case.id,
                    patient_ref=case.patient_ref,
                    site=case.site,
                    pathway=spell.discharge_pathway,
                    destination_code=str(code) if code is not None else None,
                    discharged_at=spell.discharged_at,
                )
            )
        return out

    def episodes(self, patients: Sequence[str]) -> list[Episode]:
        """Every IC episode of these patients the organisation may see."""
        cases: list[Case] = []
        for part in _chunks(sorted(patients)):
            stmt = select(Case).where(
                Case.workflow_key == INTERMEDIATE_CARE, Case.patient_ref.in_(part)
            )
            cases += self.session.execute(self._scoped(stmt)).scalars()
        step_down: dict[int, int] = {}
        for part in _chunks([c.id for c in cases]):
            links = select(CaseLink.to_case_id, CaseLink.from_case_id).where(
                CaseLink.to_case_id.in_(part), CaseLink.link_type == "step_down"
            )
            step_down.update({int(t): int(f) for t, f in self.session.execute(links).all()})
        return [
            Episode(
                case_id=c.id,
                patient_ref=c.patient_ref,
                direction=c.attributes.get("direction"),
                opened_at=c.opened_at,
                outcome=c.attributes.get("outcome"),
                still_at_home_91d=c.attributes.get("still_at_home_91d"),
                step_down_from=step_down.get(c.id),
            )
            for c in sorted(cases, key=lambda c: c.id)
        ]

    def admissions(self, patients: Sequence[str]) -> list[Admission]:
        """Every discharge case (hospital spell) of these patients the organisation may see,
        with its admission time and the time it recorded `died`, if it did."""
        rows: list[tuple[int, str | None, datetime | None]] = []
        for part in _chunks(sorted(patients)):
            stmt = (
                select(Case.id, Case.patient_ref, DischargeSpell.admitted_at)
                .outerjoin(DischargeSpell, DischargeSpell.case_id == Case.id)
                .where(Case.workflow_key == DISCHARGE, Case.patient_ref.in_(part))
            )
            rows += [(int(i), p, a) for i, p, a in self.session.execute(self._scoped(stmt))]
        died: dict[int, datetime] = {}
        for part in _chunks([r[0] for r in rows]):
            deaths = (
                select(CaseEvent.case_id, func.min(CaseEvent.occurred_at))
                .where(CaseEvent.case_id.in_(part), CaseEvent.event == "died")
                .group_by(CaseEvent.case_id)
            )
            died.update({int(c): at for c, at in self.session.execute(deaths).all()})
        return [Admission(i, p, a, died.get(i)) for i, p, a in sorted(rows)]
