"""The audit's answers over the API (and the page's rows)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class PathwayRow(BaseModel):
    pathway: str = Field(description="Discharge pathway (P0-P3b), `unknown`, or `all`")
    discharges: int
    outcomes: dict[str, int] = Field(description="Discharges by 91-day outcome")
    outcome_percent: dict[str, float | None] = Field(description="Of this pathway's discharges")
    re_referred: int = Field(description="Discharges followed by at least one re-referral")
    re_referrals: int = Field(description="Re-referral (step-up) episodes in the window")
    possibly_more_intensive: int = Field(
        description="Indicator for review, not a judgement (README: Pathway-fit audit)"
    )


class PathwayFitReport(BaseModel):
    as_of: datetime
    date_from: date
    date_to: date
    site: str | None
    window_days: int
    measure: str
    pathways: list[PathwayRow]
    total: PathwayRow


class PatientFitRead(BaseModel):
    case_id: int
    case_link: str
    patient_ref: str | None = Field(description="NHS number; withheld without identifiers")
    site: str | None
    discharged_on: date
    pathway: str | None
    destination_code: str | None
    outcome: str
    evidence: str
    ic_outcome: str | None
    window_ends: date
    re_referrals: int
    re_referred: bool
    possibly_more_intensive: bool


class PatientFitList(BaseModel):
    as_of: datetime
    date_from: date
    date_to: date
    site: str | None
    pathway: str | None
    outcome: str | None
    items: list[PatientFitRead]
