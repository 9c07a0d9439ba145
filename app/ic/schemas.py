"""Request and response shapes for IC services, occupancy, the waiting list and follow-ups."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.cases.schemas import CODE_PATTERN
from app.security.inputs import RequestModel, SingleLine

ModelName = Literal["crisis_response", "home_based_ic", "reablement", "bed_based_ic"]
SERVICE_CODE = r"^[A-Z0-9][A-Z0-9_-]{1,31}$"


class _Request(RequestModel):
    pass


class ServiceCreate(_Request):
    code: str = Field(pattern=SERVICE_CODE, description="Short unique code, e.g. SEF-REAB-N")
    name: SingleLine = Field(min_length=1, max_length=100)
    site: str = Field(pattern=CODE_PATTERN)
    model: ModelName
    capacity: int = Field(ge=0, le=10_000, description="Beds (bed-based IC) or slots (others)")
    organisation: str | None = Field(
        default=None, pattern=CODE_PATTERN, description="Defaults to the caller's own."
    )
    active: bool = True
    reason: str | None = Field(default=None, max_length=2000)


class ServiceUpdate(_Request):
    name: SingleLine | None = Field(default=None, min_length=1, max_length=100)
    capacity: int | None = Field(default=None, ge=0, le=10_000)
    active: bool | None = None
    reason: str = Field(min_length=1, max_length=2000, description="Why, kept in the audit")


class ServiceRead(BaseModel):
    id: int
    code: str
    name: str
    organisation: str
    site: str
    model: str
    unit: Literal["beds", "slots"]
    capacity: int
    occupied: int
    free: int
    over_capacity: bool
    active: bool
    created_at: datetime
    updated_at: datetime


class Occupant(BaseModel):
    case_id: int
    patient_ref: str | None
    state: str
    model: str | None
    in_model_since: datetime | None
    started_at: datetime | None
    ucr_condition: UcrConditionShown | None = None


class OccupancyRead(BaseModel):
    as_of: datetime
    service: ServiceRead
    occupants: list[Occupant]


class ServiceChangeRead(BaseModel):
    action: str
    changes: dict[str, Any]
    reason: str | None
    by: str
    organisation: str
    at: datetime


class UcrConditionShown(BaseModel):
    """A 2-hour referral's clinical condition: HomeFirst's id and the words shown for it."""

    code: str
    label: str
    verbatim: bool = Field(
        description="True: the NHS England 2022 wording; false: by topic (unverified) or local"
    )


class WaitingRow(BaseModel):
    case_id: int
    patient_ref: str | None
    site: str | None
    direction: str | None
    referrer: str | None
    priority: str | None
    planned_model: str | None
    ucr_condition: UcrConditionShown | None = None
    referred_at: datetime
    waiting_since: datetime | None
    hours_since_referral: float
    start_due_at: datetime | None = Field(description="When the 2-day start clock falls due")
    start_overdue: bool


class WaitingList(BaseModel):
    as_of: datetime
    count: int
    order: list[str] = Field(description="Priority order used, highest need first")
    items: list[WaitingRow]


class FollowUpRow(BaseModel):
    case_id: int
    patient_ref: str | None
    site: str | None
    outcome: str | None
    ended_at: datetime | None
    due_on: date
    overdue: bool


class FollowUpList(BaseModel):
    as_of: datetime
    count: int
    items: list[FollowUpRow]
