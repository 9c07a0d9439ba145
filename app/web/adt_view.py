"""How a refused PAS message reads on the screens: its type and the reason it was refused in
words, its times in London, and its raw text a segment a line, with NHS numbers withheld from
anyone whose grant of `adt.messages` is not `full`.

Pure formatting and checking: no database, no HTTP. `app.web.adt_dead_letters` builds the
views from the message log's rows (app/models/adt.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from app.models.adt import APPLIED, DISMISSED, IGNORED, REJECTED
from app.models.adt import AdtMessage as LoggedMessage
from app.security.text import control_character
from app.timeutil import LONDON

WITHHELD = "[NHS number withheld]"
UNPARSED = "unparsed"  # the sender logged for a message that cannot be read (app.adt.service)
# Ten digits standing alone, as written in PID-3 or with spaces (943 476 5919). Anything that
# looks like one is withheld: a ten-digit timestamp hidden too costs nothing, an NHS number
# shown to the wrong person does.
_NHS_NUMBER = re.compile(r"(?<!\d)\d{3} ?\d{3} ?\d{4}(?!\d)")
_SEGMENT_BREAK = re.compile(r"\r\n|\r|\n")

# HL7 v2 ADT triggers as a ward clerk says them.
TRIGGERS = {
    "A01": "admission",
    "A02": "transfer",
    "A03": "discharge",
    "A08": "patient update",
    "A11": "admission cancelled",
    "A12": "transfer cancelled",
    "A13": "discharge cancelled",
    "A40": "patients merged",
}
# Why a message was refused, in words: the feed's own codes (app/adt) and the pathway's
# refusals it passes on (app/errors.py). The code itself is shown beside, for searching.
REASONS = {
    "unparseable": "The message cannot be read",
    "no_control_id": "No message control id (MSH-10)",
    "unknown_sender": "The sender is not a configured interface",
    "no_location": "No location (PV1-3)",
    "unknown_location": "The location's site is not configured",
    "no_discharge_destination": "No discharge destination (PV1-36)",
    "no_open_spell": "The patient has no open hospital spell",
    "no_discharge_to_cancel": "There is no discharge to cancel",
    "out_of_order": "Arrived after a later message",
    "bad_time": "A date or time cannot be read",
    "patient_not_identified": "The patient cannot be identified",
    "invalid_nhs_number": "The NHS number fails its check",
    "merge_needs_review": "A merge of two NHS numbers, for a person to check",
    "merge_without_numbers": "A merge without both hospital numbers",
    "invalid_transition": "Not allowed in the case's current state",
    "guard_rejected": "Refused by a rule of the discharge pathway",
    "validation_failed": "Data the discharge pathway does not accept",
    "invalid_time": "A time the case does not accept",
}
REASON_MIN, REASON_MAX = 3, 500  # as the API's dismissal (and the log's resolution column)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class LetterView:
    """One message of the log as the screens show it."""

    id: int
    href: str
    title: str
    received: str
    event_at: str
    sender: str
    message_type: str
    control_id: str
    reason: str  # in words
    reason_text: str  # the feed's own explanation
    error_code: str
    ack_code: str
    attempts: int
    case_id: int | None
    lines: list[str]  # the raw message, a segment a line
    status: str  # waiting, applied, ignored, dismissed
    events: list[str]
    note: str
    resolved_at: str
    resolved_by: str
    resolution: str

    @property
    def waiting(self) -> bool:
        return self.status == "waiting"

    @property
    def case_href(self) -> str | None:
        return f"/tracker/cases/{self.case_id}" if self.case_id is not None else None


@dataclass(frozen=True)
class Outcome:
    """What became of a message a person has just retried or dismissed."""

    success: bool
    title: str
    text: str
    letter: LetterView
    events: list[str] = field(default_factory=list)


def was_dead_letter(row: LoggedMessage) -> bool:
    """Refused now, or refused once and then resolved by a person (what the screen shows)."""
    return row.outcome in (REJECTED, DISMISSED) or row.resolved_at is not None


def letter_view(row: LoggedMessage, *, identifiers: bool) -> LetterView:
    keep = _shown(identifiers)
    trigger = row.message_type.partition("^")[2]
    kind = TRIGGERS.get(trigger, "unreadable message" if row.message_type == "?" else "message")
    code = row.error_code or ""
    return LetterView(
        id=row.id,
        href=f"/adt/dead-letters/{row.id}",
        title=f"{trigger} {kind}" if trigger else kind.capitalize(),
        received=when(row.received_at),
        event_at=when(row.event_at),
        sender=_sender(row.sender, row.interface),
        message_type=row.message_type,
        control_id=keep(row.control_id),
        reason=reason_words(code) if code else "",
        reason_text=keep(row.error_text or ""),
        error_code=code,
        ack_code=row.ack_code,
        attempts=row.attempts,
        case_id=row.case_id,
        lines=readable_lines(row.raw, identifiers=identifiers),
        status=_status(row),
        events=[e for e in (row.events or "").split(",") if e],
        note=keep(row.note or ""),
        resolved_at=when(row.resolved_at),
        resolved_by=row.resolved_by or "",
        resolution=keep(row.resolution or ""),
    )


def outcome_of(letter: LetterView, *, retried: bool) -> Outcome | None:
    """The banner for the message as it is now; none for a waiting message not just retried."""
    name = f"Message {letter.control_id} ({letter.title})"
    if letter.status == "waiting":
        if not retried:
            return None
        text = f"{name} was tried again and is still refused. {letter.reason}. "
        return Outcome(False, "Still refused", text + letter.reason_text, letter)
    if letter.status == "dismissed":
        text = f"{name} was dismissed by {letter.resolved_by}: {letter.resolution}"
        return Outcome(True, "Dismissed", text, letter)
    if letter.events:
        text = f"{name} was applied to case {letter.case_id}, recording:"
        return Outcome(True, "Applied", text, letter, letter.events)
    text = f"{name} was accepted and changed nothing: {letter.note or 'nothing to change'}."
    return Outcome(True, "Accepted", text, letter)


def reason_problem(text: str) -> str | None:
    """What is wrong with a reason for dismissing (already trimmed), or None."""
    if not text:
        return "Enter why this message is dismissed"
    if control_character(text, single_line=False) is not None:
        return "The reason must be plain text"
    if len(text) < REASON_MIN:
        return f"The reason must be at least {REASON_MIN} characters"
    if len(text) > REASON_MAX:
        return f"The reason must be {REASON_MAX} characters or fewer"
    return None


def reason_words(code: str) -> str:
    return REASONS.get(code) or code.replace("_", " ").capitalize()


def readable_lines(raw: str, *, identifiers: bool) -> list[str]:
    """The message a segment a line (HL7 separates them with carriage returns, which a browser
    shows as nothing), NHS numbers withheld unless `identifiers`."""
    keep = _shown(identifiers)
    return [keep(line) for line in _SEGMENT_BREAK.split(raw) if line.strip()]


def withhold_nhs_numbers(text: str) -> str:
    return _NHS_NUMBER.sub(WITHHELD, text)


def when(value: datetime | None) -> str:
    """A London time as "5 Dec 2026, 14:05"."""
    if value is None:
        return ""
    local = value.astimezone(LONDON)
    day = f"{local.day} {MONTHS[local.month - 1]} {local.year}"
    return f"{day}, {local.hour:02d}:{local.minute:02d}"


def _shown(identifiers: bool) -> Callable[[str], str]:
    return _as_is if identifiers else withhold_nhs_numbers


def _as_is(text: str) -> str:
    return text


def _sender(sender: str, interface: str | None) -> str:
    if sender == UNPARSED:
        return "Not known (the message cannot be read)"
    application, _, facility = sender.partition("|")
    words = f"{application} at {facility}" if facility else application
    return f"{words} (interface {interface})" if interface else words


def _status(row: LoggedMessage) -> str:
    if row.outcome == REJECTED:
        return "waiting"
    if row.outcome == DISMISSED:
        return "dismissed"
    return "ignored" if row.outcome == IGNORED else "applied" if row.outcome == APPLIED else ""
