"""Shapes for linked cases."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from app.cases.schemas import CODE_PATTERN, NAME_PATTERN
from app.security.inputs import IsoAwareDatetime, RequestModel

LinkType = Literal["step_down", "chc_referral", "follow_on", "readmission", "related"]


class LinkedCaseCreate(RequestModel):
    workflow: str = Field(pattern=NAME_PATTERN, description="Workflow of the new linked case")
    link_type: LinkType
    site: str | None = Field(default=None, pattern=CODE_PATTERN)
    data: dict[str, Any] = Field(default_factory=dict, max_length=100)
    occurred_at: IsoAwareDatetime | None = None
    reason: str | None = Field(default=None, max_length=2000)
