"""An ADT message as HomeFirst reads it: parsed by hl7apy (segments, fields, components and
repetitions), then the handful of items the feed uses, named. Nothing here touches the database.

Items read (HL7 v2.3-2.5 positions, as NHS PAS feeds send them):
MSH-3/4 sender, MSH-7 sent at, MSH-9 type, MSH-10 control id, MSH-12 version; EVN-2 recorded at,
EVN-6 occurred at; PID-3 identifiers (NHS number, local hospital number); MRG-1 the merged-away
identifiers (A40); PV1-2 patient class; PV1-3 location (1 ward, 2 room, 3 bed, 4 facility =
site), PV1-36 discharge disposition, PV1-44 admit time, PV1-45 discharge time; PV2-9 expected
discharge date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

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
    try:
        msg = parse_message(text, find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT)
    except HL7apyException as exc:
        raise MessageRefused(
            "unparseable", f"The message cannot be parsed: {exc}.", hl7_code="100", reject=True
        ) from None
    reader = _Reader(msg)
    msh = msg.msh
    control_id = reader.text(msh.msh_10)
    if not control_id:
        raise MessageRefused(
            "no_control_id", "MSH-10 (message control id) is empty.", hl7_code="101", reject=True
        )
    code, trigger = reader.component(msh.msh_9, 0), reader.component(msh.msh_9, 1)
    segments = {child.name for child in msg.children}
    pv1 = msg.pv1 if "PV1" in segments else None
    return AdtMessage(
        raw=text,
        application=reader.component(msh.msh_3, 0),
        facility=reader.component(msh.msh_4, 0),
        control_id=control_id,
        version=reader.text(msh.msh_12),
        message_code=code,
        trigger=trigger,
        sent_at=reader.when(msh.msh_7, "MSH-7"),
        recorded_at=reader.when(msg.evn.evn_2, "EVN-2") if "EVN" in segments else None,
        occurred_at=reader.when(msg.evn.evn_6, "EVN-6") if "EVN" in segments else None,
        identifiers=reader.identifiers(msg.pid.pid_3) if "PID" in segments else (),
        merged=reader.identifiers(msg.mrg.mrg_1) if "MRG" in segments else (),
        patient_class=reader.text(pv1.pv1_2) if pv1 is not None else "",
        location=reader.location(pv1.pv1_3) if pv1 is not None else None,
        admitted_at=reader.when(pv1.pv1_44, "PV1-44") if pv1 is not None else None,
        discharged_at=reader.when(pv1.pv1_45, "PV1-45") if pv1 is not None else None,
        disposition=(reader.text(pv1.pv1_36) or None) if pv1 is not None else None,
        expected_discharge=(
            _day(reader.text(msg.pv2.pv2_9), "PV2-9") if "PV2" in segments else None
        ),
    )


class _Reader:
    """Values out of hl7apy elements, with the message's escape sequences undone (hl7apy keeps
    them as sent)."""

    def __init__(self, msg: Any) -> None:
        chars = msg.encoding_chars
        esc = re.escape(chars["ESCAPE"])
        self._sep = {
            "F": chars["FIELD"],
            "S": chars["COMPONENT"],
            "T": chars["SUBCOMPONENT"],
            "R": chars["REPETITION"],
            "E": chars["ESCAPE"],
        }
        self._escape = re.compile(f"{esc}([FSTRE]){esc}")
        self._component = chars["COMPONENT"]

    def unescape(self, value: str) -> str:
        return self._escape.sub(lambda m: self._sep[m.group(1)], value).strip()

    def text(self, element: Any) -> str:
        return self.unescape(element.to_er7()) if element is not None else ""

    def component(self, element: Any, index: int) -> str:
        parts = element.to_er7().split(self._component) if element is not None else []
        return self.unescape(parts[index]) if index < len(parts) else ""

    def identifiers(self, field: Any) -> tuple[Identifier, ...]:
        found = []
        for repetition in field:
            value = self.component(repetition, 0)
            if value:
                found.append(
                    Identifier(value, self.component(repetition, 3), self.component(repetition, 4))
                )
        return tuple(found)

    def location(self, field: Any) -> Location | None:
        ward = self.component(field, 0)
        if not ward:
            return None
        return Location(
            ward, self.component(field, 1), self.component(field, 2), self.component(field, 3)
        )

    def when(self, element: Any, item: str) -> datetime | None:
        return _instant(self.component(element, 0), item)


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
