"""An ADT message as HomeFirst reads it: parsed by python-hl7 (`hl7`: segments, fields, and the
message's own delimiters and escapes), then the handful of items the feed uses, named and
checked here (times, the version, the control id). Nothing here touches the database.

Items read (HL7 v2.3-2.5 positions, as NHS PAS feeds send them):
MSH-3/4 sender, MSH-7 sent at, MSH-9 type, MSH-10 control id, MSH-12 version; EVN-2 recorded at,
EVN-6 occurred at; PID-3 identifiers (NHS number, local hospital number), PID-7 date of birth;
MRG-1 the merged-away identifiers (A40); PV1-2 patient class; PV1-3 location (1 ward, 2 room,
3 bed, 4 facility = site), PV1-36 discharge disposition, PV1-44 admit time, PV1-45 discharge
time; PV2-9 expected discharge date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import hl7

from app.timeutil import LONDON

# Messages the feed acts on; any other ADT trigger is acknowledged and not used.
USED_TRIGGERS = frozenset({"A01", "A02", "A03", "A08", "A11", "A12", "A13", "A40"})


class MessageRefused(Exception):
    """The message cannot be used. `code` is stable (the dead-letter list and tests read it);
    `hl7_code` is the HL7 table 0357 error code for ERR; `reject` means AR (the message itself
    is unacceptable: unparseable, unknown sender) rather than AE (it could not be applied)."""

    def __init__(
        self,
        code: str,
        text: str,
        *,
        hl7_code: str = "207",
        reject: bool = False,
        case_id: int | None = None,
    ):
        super().__init__(text)
        self.code, self.text, self.hl7_code, self.reject = code, text, hl7_code, reject
        self.case_id = case_id  # the case it was about, when known (for the dead-letter list)


@dataclass(frozen=True)
class Identifier:
    value: str
    authority: str  # CX-4
    kind: str  # CX-5


@dataclass(frozen=True)
class Location:
    ward: str  # PL-1 point of care
    room: str  # PL-2
    bed: str  # PL-3
    facility: str  # PL-4 (the site)

    @property
    def bed_label(self) -> str | None:
        label = " ".join(p for p in (self.room, self.bed) if p)
        return label or None


@dataclass(frozen=True)
class AdtMessage:
    raw: str
    application: str
    facility: str
    control_id: str
    version: str
    message_code: str  # ADT
    trigger: str  # A01 ...
    sent_at: datetime | None
    recorded_at: datetime | None  # EVN-2
    occurred_at: datetime | None  # EVN-6
    identifiers: tuple[Identifier, ...]
    merged: tuple[Identifier, ...]  # MRG-1
    patient_class: str  # PV1-2: I inpatient, E emergency, O outpatient, ...
    location: Location | None  # PV1-3
    admitted_at: datetime | None  # PV1-44
    discharged_at: datetime | None  # PV1-45
    disposition: str | None  # PV1-36
    expected_discharge: date | None  # PV2-9
    date_of_birth: date | None = None  # PID-7

    @property
    def message_type(self) -> str:
        return f"{self.message_code}^{self.trigger}"

    @property
    def event_at(self) -> datetime | None:
        """When the event happened, for ordering: EVN-6, else EVN-2, else MSH-7."""
        return self.occurred_at or self.recorded_at or self.sent_at


def parse(raw: str) -> AdtMessage:
    """The message's items, or `MessageRefused` (AR) saying what is wrong with it."""
    text = raw.replace("\r\n", "\r").replace("\n", "\r").strip("\r")
    if not text.startswith("MSH"):
        raise MessageRefused(
            "unparseable", "The message does not start with MSH.", hl7_code="100", reject=True
        )
    # Whatever python-hl7 trips on (it raises several kinds, and asserts), the message is
    # unreadable: it is refused, never a 500.
    try:
        msg = hl7.parse(text)
    except Exception as exc:
        raise MessageRefused(
            "unparseable", f"The message cannot be parsed: {exc}.", hl7_code="100", reject=True
        ) from None
    reader = _Reader(msg)
    # The first of each segment (a repeated PID or PV1 is not the feed's to resolve).
    first: dict[str, Any] = {}
    for segment in msg:
        first.setdefault(str(segment[0]), segment)
    msh, evn, pv1 = first["MSH"], first.get("EVN"), first.get("PV1")
    version = reader.text(msh, 12)
    if version not in SUPPORTED_VERSIONS:
        raise MessageRefused(
            "unparseable",
            f"MSH-12 version {version!r} is not an HL7 v2 version HomeFirst reads "
            f"({', '.join(sorted(SUPPORTED_VERSIONS))}).",
            hl7_code="203",
            reject=True,
        )
    control_id = reader.text(msh, 10)
    if not control_id:
        raise MessageRefused(
            "no_control_id", "MSH-10 (message control id) is empty.", hl7_code="101", reject=True
        )
    message_type = reader.components(msh, 9)
    return AdtMessage(
        raw=text,
        application=_at(reader.components(msh, 3), 0),
        facility=_at(reader.components(msh, 4), 0),
        control_id=control_id,
        version=version,
        message_code=_at(message_type, 0),
        trigger=_at(message_type, 1),
        sent_at=reader.when(msh, 7),
        recorded_at=reader.when(evn, 2),
        occurred_at=reader.when(evn, 6),
        identifiers=reader.identifiers(first.get("PID"), 3),
        merged=reader.identifiers(first.get("MRG"), 1),
        patient_class=reader.text(pv1, 2),
        location=reader.location(pv1, 3),
        admitted_at=reader.when(pv1, 44),
        discharged_at=reader.when(pv1, 45),
        disposition=reader.text(pv1, 36) or None,
        expected_discharge=_day(reader.text(first.get("PV2"), 9), "PV2-9"),
        date_of_birth=_day(reader.text(first.get("PID"), 7), "PID-7"),
    )


# The versions whose ADT segments carry the items above at the positions above.
SUPPORTED_VERSIONS = frozenset(
    {"2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8"}
)


def _at(parts: list[str], index: int) -> str:
    return parts[index] if index < len(parts) else ""


class _Reader:
    """Values out of python-hl7's segments, with the message's escape sequences undone (the
    library keeps them as sent). A field is taken as sent (its ER7 text) and split into
    repetitions and components with the message's own delimiters (MSH-1, MSH-2); a segment or
    field that is absent reads as empty. Field numbers are HL7's (MSH-3 is `msh[3]`)."""

    def __init__(self, msg: hl7.Message) -> None:
        # python-hl7's separators: segment, field, repetition, component, sub-component.
        _, field, repetition, component, subcomponent = msg.separators
        self._repetition, self._component = repetition, component
        self._esc = msg.esc
        self._sep = {"F": field, "S": component, "T": subcomponent, "R": repetition, "E": msg.esc}
        esc = re.escape(msg.esc)
        self._escape = re.compile(f"{esc}([FSTRE]){esc}")

    def unescape(self, value: str) -> str:
        """The delimiter escapes undone; any other escape (highlighting, hex, character sets) is
        kept as sent. Not python-hl7's own `unescape`: it logs the value it cannot decode, and a
        value here may be an NHS number."""
        if self._esc not in value:
            return value.strip()
        return self._escape.sub(lambda m: self._sep[m.group(1)], value).strip()

    def _repetitions(self, segment: Any, field: int) -> list[str]:
        """The field's repetitions as sent (ER7), none when the segment or field is absent."""
        if segment is None or field >= len(segment):
            return []
        text = str(segment[field])
        return text.split(self._repetition) if text else []

    def text(self, segment: Any, field: int) -> str:
        """The field's first repetition, components and all."""
        found = self._repetitions(segment, field)
        return self.unescape(found[0]) if found else ""

    def components(self, segment: Any, field: int) -> list[str]:
        """The components of the field's first repetition."""
        found = self._repetitions(segment, field)
        return self._split(found[0]) if found else []

    def _split(self, er7: str) -> list[str]:
        return [self.unescape(part) for part in er7.split(self._component)]

    def identifiers(self, segment: Any, field: int) -> tuple[Identifier, ...]:
        found = []
        for repetition in self._repetitions(segment, field):
            parts = self._split(repetition)
            if parts[0]:
                found.append(Identifier(parts[0], _at(parts, 3), _at(parts, 4)))
        return tuple(found)

    def location(self, segment: Any, field: int) -> Location | None:
        parts = self.components(segment, field)
        if not _at(parts, 0):
            return None
        return Location(parts[0], _at(parts, 1), _at(parts, 2), _at(parts, 3))

    def when(self, segment: Any, field: int) -> datetime | None:
        name = f"{segment[0]}-{field}" if segment is not None else ""
        return _instant(_at(self.components(segment, field), 0), name)


_TS = re.compile(
    r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(?:(\d{2})(?:\.\d{1,4})?)?)?([+-]\d{4})?$"
)


def _instant(value: str, item: str) -> datetime | None:
    """An HL7 TS (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]) as UTC; without an offset it is London time,
    as English PAS systems send it."""
    if not value:
        return None
    m = _TS.match(value)
    if m is None:
        raise MessageRefused(
            "bad_time", f"{item} is not an HL7 date and time: {value!r}.", hl7_code="102"
        )
    y, mo, d, h, mi, s, zone = m.groups()
    try:
        local = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
    except ValueError:
        raise MessageRefused(
            "bad_time", f"{item} is not a real date and time: {value!r}.", hl7_code="102"
        ) from None
    if zone:
        sign = 1 if zone[0] == "+" else -1
        offset = sign * (int(zone[1:3]) * 60 + int(zone[3:5]))
        return local.replace(tzinfo=timezone(timedelta(minutes=offset))).astimezone(UTC)
    return local.replace(tzinfo=LONDON).astimezone(UTC)


def _day(value: str, item: str) -> date | None:
    at = _instant(value[:8], item) if value else None
    if at is None:
        return None
    return date(int(value[0:4]), int(value[4:6]), int(value[6:8]))
