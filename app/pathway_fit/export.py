"""The audit as CSV (through app.csvout, which neutralises formulas)."""

from __future__ import annotations

from collections.abc import Sequence

from app.csvout import to_csv
from app.pathway_fit.derive import OUTCOMES
from app.pathway_fit.schemas import PathwayRow, PatientFitRead


def summary_csv(rows: Sequence[PathwayRow]) -> str:
    header = [
        "pathway",
        "discharges",
        *OUTCOMES,
        *(f"{o}_percent" for o in OUTCOMES),
        "re_referred",
        "re_referrals",
        "possibly_more_intensive",
    ]
    return to_csv(
        header,
        (
            [
                r.pathway,
                r.discharges,
                *(r.outcomes[o] for o in OUTCOMES),
                *(r.outcome_percent[o] for o in OUTCOMES),
                r.re_referred,
                r.re_referrals,
                r.possibly_more_intensive,
            ]
            for r in rows
        ),
    )


PATIENT_FIELDS = (
    "case_id",
    "case_link",
    "patient_ref",
    "site",
    "discharged_on",
    "pathway",
    "destination_code",
    "outcome",
    "evidence",
    "ic_outcome",
    "window_ends",
    "re_referrals",
    "re_referred",
    "possibly_more_intensive",
)


def patients_csv(items: Sequence[PatientFitRead]) -> str:
    def value(item: PatientFitRead, name: str) -> object:
        v = getattr(item, name)
        return v.isoformat() if hasattr(v, "isoformat") else v

    return to_csv(PATIENT_FIELDS, ([value(i, f) for f in PATIENT_FIELDS] for i in items))
