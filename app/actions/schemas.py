"""What the actions API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Assignee = Literal["me", "my-team", "my-organisation"]
StatusFilter = Literal["open", "done", "cancelled", "withdrawn", "all"]
KindFilter = Literal["action", "milestone"]


class ActionRead(BaseModel):
    case_id: int
    case_link: str = Field(description="The case's page")
    workflow: str
    site: str | None
    pathway: str | None
    patient_ref: str | None = Field(description="NHS number; withheld unless your grant has it")
    ref: str = Field(description="A12 for an action added by a person; the milestone's name")
    kind: Literal["action", "milestone"]
    milestone: str | None
    title: str
    owner_organisation: str
    owner_role: str | None
    assignee: str | None
    due_at: datetime
    status: Literal["open", "done", "cancelled", "withdrawn"]
    overdue: bool = Field(description="Open past its due time now")
    late: bool = Field(description="Past its due time now, or closed after it")
    minutes_late: int | None = Field(description="How late, in whole minutes (late only)")
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    late_reason: str | None
    late_reasons: list[str] = Field(description="A milestone's own late reasons (any if empty)")


class ActionList(BaseModel):
    items: list[ActionRead] = Field(description="Past their due time first, then by due time")
    as_at: datetime
    complete: bool = Field(description="False when the list was cut at `limit`")
    overdue: int = Field(description="How many of the items are overdue")
