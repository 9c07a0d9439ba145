"""The Ready-for-Discharge list as CSV: what `GET /rfd?format=csv` sends and the tracker's
download link serves, one definition for both."""

from __future__ import annotations

from collections.abc import Sequence

from app import csvout
from app.discharge.schemas import RfdRow

CSV_COLUMNS = [
    "case_id",
    "nhs_number",
    "hospital_system",
    "site",
    "ward",
    "state",
    "pathway",
    "discharge_ready_date",
    "days_since_drd",
    "length_of_stay_days",
    "primary_reason",
    "delay_reasons",
    "escalated",
    "escalation_reason",
    "responsible_person",
    "expected_discharge_date",
]


def rfd_csv(rows: Sequence[RfdRow]) -> str:
    # Through the one CSV writer: a ward or an escalation reason cannot run as a formula.
    return csvout.to_csv(
        CSV_COLUMNS,
        (
            [
                r.case_id,
                r.nhs_number,
                r.hospital_system,
                r.site,
                r.ward,
                r.state,
                r.pathway,
                r.discharge_ready_date,
                r.days_since_drd,
                r.length_of_stay_days,
                r.primary_reason.label or r.primary_reason.code if r.primary_reason else "",
                "; ".join(d.label or d.code for d in r.delays),
                "yes" if r.escalated else "no",
                r.escalation_reason,
                r.responsible_person,
                r.expected_discharge_date,
            ]
            for r in rows
        ),
    )
