"""The data-quality answers as CSV, through the service's one CSV writer (app.csvout), so a
ward name from a client cannot start a spreadsheet formula."""

from __future__ import annotations

from typing import Any

from app import csvout
from app.quality.schemas import QualityDay, QualityPatients, QualityRow, QualitySeries

ALL_WARDS = "All wards"
ROW_FIELDS = (
    "census",
    "with_status",
    "with_status_percent",
    "ctr_entries",
    "backdated",
    "backdated_percent",
    "flip_flops",
    "delayed",
    "delayed_no_reason",
    "delayed_no_reason_percent",
    "reason_while_meeting",
    "with_problem",
    "score_percent",
)
PATIENT_COLUMNS = [
    "case_id",
    "nhs_number",
    "site",
    "ward",
    "measure",
    "in_census",
    "link",
    "detail",
]


def _cells(r: QualityRow, bands: list[str]) -> list[Any]:
    return [getattr(r, name) for name in ROW_FIELDS] + [r.backdated_by.get(b, 0) for b in bands]


def _band_columns(bands: list[str]) -> list[str]:
    return [f"backdated {b}" for b in bands]


def day_csv(day: QualityDay) -> str:
    bands = list(day.total.backdated_by)
    header = ["date", "ward", *ROW_FIELDS, *_band_columns(bands)]
    rows = [[day.date.isoformat(), r.ward, *_cells(r, bands)] for r in day.wards]
    rows.append([day.date.isoformat(), day.ward or ALL_WARDS, *_cells(day.total, bands)])
    return csvout.to_csv(header, rows)


def series_csv(series: QualitySeries) -> str:
    bands = list(series.items[0].backdated_by) if series.items else []
    header = ["date", "final", "ward", *ROW_FIELDS, *_band_columns(bands)]
    rows = [
        [
            i.date.isoformat(),
            "yes" if i.final else "no",
            series.ward or ALL_WARDS,
            *_cells(i, bands),
        ]
        for i in series.items
    ]
    return csvout.to_csv(header, rows)


def patients_csv(found: QualityPatients) -> str:
    rows = [
        [
            p.case_id,
            p.nhs_number,
            p.site,
            p.ward,
            p.measure,
            "yes" if p.in_census else "no",
            p.link,
            p.detail,
        ]
        for p in found.items
    ]
    return csvout.to_csv(PATIENT_COLUMNS, rows)
