"""Reading ADT messages and writing ACKs, without a database: what the feed takes from each
field, and what the sender is told."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from app.adt.ack import build_ack
from app.adt.message import MessageRefused, parse


def _pv1(fields: dict[int, str]) -> str:
    """A PV1 segment with these fields (by HL7 position) and the rest empty."""
    return "|".join(["PV1", *(fields.get(i, "") for i in range(1, max(fields) + 1))])


A02 = "\r".join(
    [
        "MSH|^~\\&|PAS|RVY|HOMEFIRST|SEFTON|20260701101500||ADT^A02^ADT_A02|MSG01|P|2.4",
        "EVN|A02|20260701101500||||20260701100000",
        "PID|1||RVY123^^^RVY^MR~943 476 5919^^^NHS^NH||SMITH^JOHN",
        _pv1(
            {
                3: "W11^BAY\\T\\2^BED 4^SDGH",
                6: "W12^^B1^SDGH",
                36: "19",
                44: "20260628083000",
                45: "20260701090000+0000",
            }
        ),
        "PV2|||||||||20260705",
    ]
)


def test_items_are_read_from_their_fields() -> None:
    msg = parse(A02)
    assert (msg.application, msg.facility, msg.control_id) == ("PAS", "RVY", "MSG01")
    assert (msg.message_code, msg.trigger, msg.version) == ("ADT", "A02", "2.4")
    # EVN-6 (occurred) wins over EVN-2 (recorded) for ordering; summer London time is UTC+1.
    assert msg.occurred_at == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    assert msg.recorded_at == datetime(2026, 7, 1, 9, 15, tzinfo=UTC)
    assert msg.event_at == msg.occurred_at
    assert [(i.value, i.authority, i.kind) for i in msg.identifiers] == [
        ("RVY123", "RVY", "MR"),
        ("943 476 5919", "NHS", "NH"),
    ]
    assert msg.location is not None
    # The escape sequence \T\ (the subcomponent separator) is undone.
    assert (msg.location.ward, msg.location.room, msg.location.bed) == ("W11", "BAY&2", "BED 4")
    assert msg.location.facility == "SDGH"
    assert msg.location.bed_label == "BAY&2 BED 4"
    assert msg.disposition == "19"
    assert msg.admitted_at == datetime(2026, 6, 28, 7, 30, tzinfo=UTC)
    # An explicit offset is honoured.
    assert msg.discharged_at == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    assert msg.expected_discharge == date(2026, 7, 5)


def test_winter_times_are_london_time_which_is_utc() -> None:
    msg = parse(A02.replace("20260701101500", "20260105101500"))
    assert msg.recorded_at == datetime(2026, 1, 5, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("garbage", "unparseable"),
        ("", "unparseable"),
        ("MSH|^~\\&|PAS|RVY|||20260701||ADT^A01||P|2.4", "no_control_id"),
        ("MSH|^~\\&|PAS|RVY|||20260701||ADT^A01|X1|P|9.9", "unparseable"),
    ],
)
def test_unusable_messages_are_refused_with_ar(raw: str, code: str) -> None:
    with pytest.raises(MessageRefused) as refused:
        parse(raw)
    assert refused.value.code == code
    assert refused.value.reject  # AR: the message itself is unacceptable


@pytest.mark.parametrize("bad", ["2026070", "20261301", "20260230", "yesterday"])
def test_a_bad_time_is_an_application_error(bad: str) -> None:
    with pytest.raises(MessageRefused) as refused:
        parse(A02.replace("EVN|A02|20260701101500", f"EVN|A02|{bad}"))
    assert refused.value.code == "bad_time"
    assert not refused.value.reject


def _read(ack: str):  # type: ignore[no-untyped-def]
    return parse_message(ack, find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT)


@pytest.mark.parametrize("version", ["2.4", "2.5"])
def test_an_error_ack_says_why_in_err(version: str) -> None:
    now = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    ack = build_ack(
        code="AE",
        control_id="MSG01",
        trigger="A02",
        version=version,
        sender_application="PAS",
        sender_facility="RVY",
        now=now,
        text="Location facility 'XX|Y' is not configured",
        error_code="unknown_location",
        hl7_error_code="103",
    )
    msg = _read(ack)
    assert msg.msh.msh_9.to_er7() == "ACK^A02^ACK"
    assert (msg.msh.msh_5.to_er7(), msg.msh.msh_6.to_er7()) == ("PAS", "RVY")
    assert msg.msh.msh_12.to_er7() == version
    assert (msg.msa.msa_1.to_er7(), msg.msa.msa_2.to_er7()) == ("AE", "MSG01")
    # The field separator in the words is escaped, so the ACK still has its fields.
    assert "\\F\\" in msg.msa.msa_3.to_er7()
    err = msg.err.to_er7()
    assert "103" in err
    assert "HL70357" in err
    if version == "2.5":
        assert msg.err.err_4.to_er7() == "E"
        assert msg.err.err_5.to_er7() == "unknown_location"


def test_an_accept_ack_has_no_err() -> None:
    ack = build_ack(
        code="AA",
        control_id="MSG01",
        trigger="A01",
        version="2.4",
        sender_application="PAS",
        sender_facility="RVY",
        now=datetime(2026, 7, 1, 9, 0, tzinfo=UTC),
    )
    assert [s.name for s in _read(ack).children] == ["MSH", "MSA"]
