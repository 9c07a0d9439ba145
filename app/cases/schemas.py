"""Request and response shapes for cases and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.calc.nhs_number import is_valid_nhs_number
from app.security.inputs import IsoAwareDatetime, RequestModel

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"


class _Request(RequestModel):
    pass


class CaseCreate(_Request):
    workflow: str = Field(pattern=NAME_PATTERN, description="Pathway key, e.g. `discharge`.")
    organisation: str | None = Field(
        default=None,
        pattern=CODE_PATTERN,
        description="Owning organisation; defaults to the caller's own.",
    )
    site: str | None = Field(default=None, pattern=CODE_PATTERN)
    patient_ref: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9-]{1,32}$",
        description="NHS number (checked with Modulus 11 when 10 digits) or a local reference.",
    )
    data: dict[str, Any] = Field(default_factory=dict, max_length=100)
    occurred_at: IsoAwareDatetime | None = Field(
        default=None, description="Clinical time; defaults to now. Backdating needs a reason."
    )
    reason: str | None = Field(default=None, max_length=2000)

    @field_validator("patient_ref")
    @classmethod
    def _nhs_number(cls, value: str | None) -> str | None:
        if value is not None and value.isdigit() and len(value) == 10:
            if not is_valid_nhs_number(value):
                raise ValueError("is not a valid NHS number (Modulus 11 check digit)")
        return value


class EventCreate(_Request):
    event: str = Field(pattern=NAME_PATTERN)
    data: dict[str, Any] = Field(default_factory=dict, max_length=100)
    occurred_at: IsoAwareDatetime | None = None
    reason: str | None = Field(default=None, max_length=2000)


class ActorRead(BaseModel):
    id: int
    username: str
    role: str
    organisation: str


class EventRead(BaseModel):
    seq: int
    event: str
    from_state: str | None
    to_state: str
    actor: ActorRead
    reason: str | None
    data: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime
    backdated: bool
    pathway_version: int


class AllowedEventRead(BaseModel):
    event: str
    dest: str
    allowed: bool
    reasons: list[str]
    requires: list[str]
    accepts: list[str]


class ClockRead(BaseModel):
    name: str
    cycle: int
    state: str
    started_at: datetime
    due_at: datetime | None
    warn_at: datetime | None
    consumed_seconds: float
    budget_seconds: int
    overdue: bool
    warned_at: datetime | None
    breached_at: datetime | None


class LinkRead(BaseModel):
    link_type: str
    direction: Literal["outgoing", "incoming"]
    case_id: int
    workflow: str
    state: str
    is_open: bool
    created_at: datetime
    created_by: str
    # The linked case's recorded outcome (e.g. an IC episode's), so it shows on the other case
    # without being copied there.
    outcome: str | None = None


class CaseRead(BaseModel):
    id: int
    workflow: str
    workflow_version: int
    state: str
    queue: str | None
    is_open: bool
    version: int
    patient_ref: str | None
    organisation: str
    site: str | None
    opened_at: datetime
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    attributes: dict[str, Any]
    clocks: list[ClockRead] = []
    links: list[LinkRead] = []
    allowed_events: list[AllowedEventRead] = []


class CaseSummary(BaseModel):
    id: int
    workflow: str
    workflow_version: int
    state: str
    queue: str | None
    is_open: bool
    version: int
    patient_ref: str | None
    organisation: str
    site: str | None
    opened_at: datetime
    updated_at: datetime


class CaseList(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )
    limit: int


class TransitionResult(BaseModel):
    case: CaseRead
    event: EventRead
