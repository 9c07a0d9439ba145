"""What the data-quality API answers (GET /data-quality, /data-quality/series, /patients)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from app.quality.config import Problem


class QualityRow(BaseModel):
    """The measures of one ward (or, as `total`, of every ward asked for) on one day."""

    ward: str | None = Field(description="The ward; null for the total")
    census: int = Field(description="Inpatients at the snapshot with one night or more")
    with_status: int = Field(description="Census patients with a criteria-to-reside entry")
    with_status_percent: float | None
    ctr_entries: int = Field(description="Criteria-to-reside entries recorded that day")
    backdated: int = Field(description="Of those, recorded later than the threshold")
    backdated_percent: float | None
    backdated_by: dict[str, int] = Field(description="Backdated entries by how late")
    flip_flops: int = Field(description="Not meeting -> meets -> not meeting, within the window")
    delayed: int = Field(description="Census patients not meeting the criteria past the DRD")
    delayed_no_reason: int = Field(description="Of those, with no delay reason open")
    delayed_no_reason_percent: float | None
    reason_while_meeting: int = Field(
        description="Census patients with a delay reason open while meeting the criteria"
    )
    with_problem: int = Field(description="Census patients with a problem the score counts")
    score_percent: float | None = Field(
        description="100 x (census - with_problem) / census; null for an empty census"
    )


class QualityDay(BaseModel):
    date: date
    as_at: datetime = Field(description="The snapshot: entries recorded by then are read")
    final: bool
    organisation: str
    site: str | None
    ward: str | None
    settings: dict[str, Any] = Field(description="The local thresholds in force")
    wards: list[QualityRow]
    total: QualityRow


class QualitySeriesItem(QualityRow):
    date: date
    final: bool


class QualitySeries(BaseModel):
    organisation: str
    site: str | None
    ward: str | None
    items: list[QualitySeriesItem]


class QualityPatient(BaseModel):
    case_id: int
    nhs_number: str | None = Field(description="Withheld (null) unless the grant allows it")
    site: str | None
    ward: str
    measure: Problem
    in_census: bool
    link: str = Field(description="The case page, to fix the record")
    detail: str = Field(description="What is wrong, in words")


class QualityPatients(BaseModel):
    date: date
    as_at: datetime
    organisation: str
    site: str | None
    ward: str | None
    measure: Problem | None
    count: int
    items: list[QualityPatient]
