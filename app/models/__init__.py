"""All ORM tables; importing this package registers them on `Base.metadata`."""

from app.models.access import AccessRecord, AccessRecordCase
from app.models.action import ActionAlert, CaseAction
from app.models.adt import AdtMessage, AdtPatientNumber
from app.models.base import Base
from app.models.case import Case
from app.models.chc import (
    ChcClaimLog,
    ChcImport,
    ChcImportChunk,
    ChcImportRejection,
    ChcImportReportPart,
    ChcRagOverride,
    ChcRagRating,
    ChcReconciliationItem,
    ChcSourceRecord,
    ChcWorkItem,
)
from app.models.clock import Clock, ClockEvent
from app.models.event import AppendOnlyViolation, CaseEvent
from app.models.heartbeat import JobHeartbeat
from app.models.huddle import Huddle, HuddleNote
from app.models.ic import IcPlacement, IcService, IcServiceChange
from app.models.idempotency import IdempotencyRecord
from app.models.ledger import LedgerStatement
from app.models.link import CaseLink
from app.models.live import LiveFigures
from app.models.notification import Notification, NotificationDelivery, NotificationSubscription
from app.models.oidc import OidcSignInAttempt
from app.models.share import CaseShare, CaseShareChange
from app.models.snapshot import MetricRestatement, MetricSnapshot, RestatementMark
from app.models.spell import DischargeDelayPeriod, DischargeSpell
from app.models.user import ApiToken, PasswordCredential, User, WebSession
from app.models.whatif import WhatIfRun

__all__ = [
    "AccessRecord",
    "AccessRecordCase",
    "ActionAlert",
    "AdtMessage",
    "AdtPatientNumber",
    "CaseShare",
    "CaseShareChange",
    "ApiToken",
    "AppendOnlyViolation",
    "Base",
    "Case",
    "CaseAction",
    "CaseEvent",
    "ChcClaimLog",
    "ChcImport",
    "ChcImportChunk",
    "ChcImportRejection",
    "ChcImportReportPart",
    "ChcRagOverride",
    "ChcRagRating",
    "ChcReconciliationItem",
    "ChcSourceRecord",
    "ChcWorkItem",
    "CaseLink",
    "Clock",
    "ClockEvent",
    "DischargeDelayPeriod",
    "DischargeSpell",
    "Huddle",
    "HuddleNote",
    "IcPlacement",
    "IcService",
    "IcServiceChange",
    "IdempotencyRecord",
    "JobHeartbeat",
    "LedgerStatement",
    "LiveFigures",
    "MetricRestatement",
    "MetricSnapshot",
    "Notification",
    "NotificationDelivery",
    "NotificationSubscription",
    "PasswordCredential",
    "RestatementMark",
    "User",
    "OidcSignInAttempt",
    "WebSession",
    "WhatIfRun",
]
