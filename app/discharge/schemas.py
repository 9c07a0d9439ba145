"""Response shapes for the Ready-for-Discharge list and a case's discharge facts."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class DelayRead(BaseModel):
    code: str
    label: str | None
    family: str | None
    codelist: str | None
    started_at: datetime
    ended_at: datetime | None
    marked_primary: bool
    support_area: str | None = None
    note: str | None = None


class PrimaryReasonRead(BaseModel):
    code: str
    label: str | None
    family: str | None
    rule: str


class RfdRow(BaseModel):
    case_id: int
    nhs_number: str | None
    hospital_system: str | None
    site: str | None
    ward: str | None
    state: str
    pathway: str | None
    discharge_ready_date: date | None
    not_meeting_ctr_since: datetime | None
    days_since_drd: int | None
    length_of_stay_days: int | None
    delays: list[DelayRead]
    primary_reason: PrimaryReasonRead | None
    escalated: bool
    escalation_reason: str | None
    responsible_person: str | None
    expected_discharge_date: date | None


class RfdList(BaseModel):
    as_of: datetime
    count: int
    complete: bool = Field(
        True,
        description="False when more cases matched the site, ward, system and pathway than the "
        "list's limit (`rfd_list_limit` in pathways/config/discharge.yaml): narrow the filters",
    )
    items: list[RfdRow]


class CtrEntry(BaseModel):
    effective_at: datetime
    recorded_at: datetime | None
    meets_criteria: bool


class PathwayChangeRead(BaseModel):
    pathway: str
    at: datetime
    by: str
    reason: str | None
    actual: bool


class DrdCohortRead(BaseModel):
    """Where the spell sits in the monthly DRD measures (NHS England's publication buckets)."""

    in_cohort: bool
    delay_days: int | None = Field(description="Days from the DRD to the date of discharge")
    bucket: str | None = Field(description="0, 1, 2-3, 4-6, 7-13, 14-20 or 21+ (days)")
    bucket_name: str | None = Field(description="The publication's name for the bucket")
    not_in_cohort_because: str | None = Field(
        description="not_discharged, under_one_night or no_drd, when outside the cohort"
    )
    explanation: str | None


class EddSettingRead(BaseModel):
    expected_discharge_date: date
    at: datetime = Field(description="When it was set (clinical time)")
    recorded_at: datetime
    by: str
    reason: str | None


class EddRead(BaseModel):
    """The expected discharge date: the plan, apart from the derived discharge-ready date."""

    current: date | None = Field(description="The EDD in force (set by the latest entry)")
    first: date | None = Field(description="The first EDD set for the spell")
    missed: bool = Field(description="Still in hospital after the current EDD")
    landed_days_from_first: int | None = Field(
        description="Date of leaving hospital minus the first EDD (negative: earlier than planned)"
    )
    history: list[EddSettingRead]


class DischargeFactsRead(BaseModel):
    case_id: int
    state: str
    discharge_ready_date: date | None
    not_meeting_ctr_since: datetime | None
    nctr_periods: list[tuple[datetime, datetime | None]]
    days_delayed: int | None
    ctr_log: list[CtrEntry]
    delays: list[DelayRead]
    primary_reason: PrimaryReasonRead | None
    planned_pathway: str | None
    discharge_pathway: str | None
    pathway_history: list[PathwayChangeRead]
    left_hospital_at: datetime | None
    drd_cohort: DrdCohortRead
    expected_discharge: EddRead
