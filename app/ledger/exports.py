"""The ledger as CSV (every cell through `app.csvout`): a Pareto table, the patients behind
it, and the partner statements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app import csvout
from app.ledger.views import LedgerPatients

SUMMARY_COLUMNS = [
    "from",
    "to",
    "basis",
    "by",
    "key",
    "label",
    "bed_days",
    "cost_gbp",
    "patients",
    "percent_of_bed_days",
    "cumulative_percent",
    "tariff_versions",
    "tariff_status",
]
PATIENT_COLUMNS = [
    "case_id",
    "nhs_number",
    "site",
    "wards",
    "pathways",
    "first_day",
    "last_day",
    "bed_days",
    "cost_gbp",
    "reasons",
]
STATEMENT_COLUMNS = [
    "month",
    "organisation",
    "responsible",
    "responsible_label",
    "figures",
    "version",
    "recorded_at",
    "reason",
    "label",
    "family",
    "pathway",
    "tariff",
    "bed_days",
    "cost_gbp",
]


def summary_csv(body: dict[str, Any]) -> str:
    versions = "; ".join(t["version"] for t in body["tariffs"])
    statuses = "; ".join(sorted({t["status"] for t in body["tariffs"]}))
    return csvout.to_csv(
        SUMMARY_COLUMNS,
        (
            [
                body["from"],
                body["to"],
                body["basis"],
                body["by"],
                r["key"],
                r["label"],
                r["bed_days"],
                r["cost"],
                r["patients"],
                r["percent"],
                r["cumulative_percent"],
                versions,
                statuses,
            ]
            for r in body["rows"]
        ),
    )


def patients_csv(found: LedgerPatients) -> str:
    return csvout.to_csv(
        PATIENT_COLUMNS,
        (
            [
                p.case_id,
                p.nhs_number,
                p.site,
                "; ".join(p.wards),
                "; ".join(p.pathways),
                p.first_day.isoformat(),
                p.last_day.isoformat(),
                p.bed_days,
                p.cost,
                "; ".join(f"{r.reason} ({r.organisation}) {r.bed_days}" for r in p.reasons),
            ]
            for p in found.items
        ),
    )


def statements_csv(statements: Sequence[dict[str, Any]]) -> str:
    rows: list[list[Any]] = []
    for s in statements:
        versions = [("as_published", 1, s["published_at"], s["as_published"])]
        if s["restatement"]:
            r = s["restatement"]
            versions.append(("restated", r["version"], r["restated_at"], r["figures"]))
        for figures, version, at, payload in versions:
            for row in payload["rows"]:
                rows.append(
                    [
                        s["month"],
                        s["organisation"],
                        s["responsible"],
                        payload["responsible_label"],
                        figures,
                        version,
                        at,
                        row["reason"],
                        row["label"],
                        row["family"],
                        row["pathway"],
                        row["tariff"],
                        row["bed_days"],
                        row["cost"],
                    ]
                )
    return csvout.to_csv(STATEMENT_COLUMNS, rows)
