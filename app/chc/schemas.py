"""Request and response shapes for the CHC working list, queue, panels and reports."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.security.inputs import RequestModel, SingleLine

Colour = Literal["red", "amber", "green"]


class _Request(RequestModel):
    pass


# -- indicative results (never decisions) --------------------------------------------------------
class FiredRuleRead(BaseModel):
    id: str
    text: str


class IndicativeRead(BaseModel):
    tool: Literal["checklist", "dst"]
    result: str
    summary: str
    fired: list[FiredRuleRead]
    table_version: str
    provisional: bool
    note: str = "Indicative only: a person records the decision (docs/domain.md §7.4)."


class ChecklistRequest(_Request):
    scores: dict[str, str] = Field(description="Domain key -> A, B or C", max_length=20)


class DstRequest(_Request):
    levels: dict[str, str] = Field(description="Domain key -> level", max_length=20)


# -- RAG, claims and the queue -------------------------------------------------------------------
class RagReasonRead(BaseModel):
    rule_id: str
    colour: str
    text: str


class OverrideRead(BaseModel):
    rag: str
    reason: str
    by: str
    at: datetime


class ClaimRead(BaseModel):
    assessor: str
    claimed_at: datetime
    expires_at: datetime
    expired: bool


class QueueItem(BaseModel):
    position: int | None
    case_id: int
    state: str
    patient_ref: str | None
    person_name: str | None
    cohort: str
    responsible_body: str | None
    rag: str
    computed_rag: str
    reasons: list[RagReasonRead]
    override: OverrideRead | None
    ruleset_version: str
    referral_date: date
    waiting_days: int
    claim: ClaimRead | None
    ordering: str


class QueueRead(BaseModel):
    ordering: str
    states: list[str]
    count: int
    items: list[QueueItem]


class ReleaseRequest(_Request):
    reason: str | None = Field(default=None, max_length=2000)


class ReassignRequest(_Request):
    to: SingleLine = Field(min_length=1, max_length=64, description="Username of the assessor")
    reason: str = Field(min_length=3, max_length=2000)


class OverrideRequest(_Request):
    rag: Colour | None = Field(description="The colour to use; null clears the override")
    reason: str = Field(min_length=3, max_length=2000)


class RatingRead(BaseModel):
    rag: str
    reasons: list[RagReasonRead]
    ruleset_version: str
    cohort: str
    rated_at: datetime


class OverrideAuditRead(BaseModel):
    rag: str | None
    previous_rag: str
    computed_rag: str
    reason: str
    by: str
    role: str
    at: datetime


class ClaimLogRead(BaseModel):
    action: str
    assessor: str | None
    by: str
    reason: str | None
    expires_at: datetime | None
    at: datetime


class RagHistoryRead(BaseModel):
    case_id: int
    ratings: list[RatingRead]
    overrides: list[OverrideAuditRead]
    claims: list[ClaimLogRead]


# -- provenance and reconciliation ---------------------------------------------------------------
class SourceRecordRead(BaseModel):
    source_list: str
    source_record_id: str
    row_number: int
    import_id: int
    match_rule: str
    values: dict[str, Any]
    recorded_at: datetime


class ReconciliationItemRead(BaseModel):
    id: int
    case_id: int
    field: str
    current_value: str | None
    incoming_value: str
    source_list: str
    source_record_id: str
    row_number: int
    status: str
    resolution: str | None
    resolution_note: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    created_at: datetime


class ReconciliationList(BaseModel):
    count: int
    items: list[ReconciliationItemRead]


class ResolveRequest(_Request):
    resolution: Literal["keep_current", "use_incoming"]
    note: str | None = Field(default=None, max_length=2000)


class ChcCaseRead(BaseModel):
    case_id: int
    state: str
    version: int
    patient_ref: str | None
    organisation: str
    attributes: dict[str, Any]
    work_item: QueueItem | None
    checklist: IndicativeRead | None
    dst: IndicativeRead | None
    provenance: list[SourceRecordRead]
    reconciliation: list[ReconciliationItemRead]


# -- imports ------------------------------------------------------------------------------------
class ImportSummary(BaseModel):
    id: int
    state: Literal["queued", "running", "done", "failed"]
    source: str
    filename: str
    sha256: str
    encoding: str
    rows_total: int
    rows_read: int
    accepted: int
    merged: int
    conflicts: int
    rejected: int
    unchanged: int
    imported_by: str
    imported_at: datetime
    finished_at: datetime | None


# -- panels ------------------------------------------------------------------------------------
class PanelCaseRead(BaseModel):
    case_id: int
    patient_ref: str | None
    person_name: str | None
    state: str
    cohort: str | None
    rag: str | None
    dst: IndicativeRead | None
    panel_recommendation: str | None
    decision_outcome: str | None


class PanelRead(BaseModel):
    date: dt.date
    previous_panel: dt.date
    next_panel: dt.date
    cadence_days: int
    provisional: bool
    count: int
    agenda: list[PanelCaseRead]


class PanelSlot(BaseModel):
    date: dt.date
    cases: int


class PanelList(BaseModel):
    cadence_days: int
    anchor_date: date
    provisional: bool
    panels: list[PanelSlot]


# -- report ------------------------------------------------------------------------------------
class BandCount(BaseModel):
    key: str
    label: str
    count: int


class ChcReport(BaseModel):
    organisation: str
    period_from: date
    period_to: date
    generated_at: datetime
    provisional: bool
    decisions: int
    decisions_within_28_days: int
    decisions_within_28_days_pct: float | None
    decision_target_pct: float
    decision_target_met: bool | None
    fast_track_decisions: int
    fast_track_packages_in_target: int
    fast_track_target_hours: float
    incomplete_over_28_days: int
    incomplete_over_28_days_by_band: list[BandCount]
    full_assessments: int
    full_assessments_acute: int
    full_assessments_acute_pct: float | None
    acute_threshold_pct: float
    backlog_by_rag_and_cohort: dict[str, dict[str, int]]
    notes: list[str]
