"""Reading a message's items and building its ACK, without a database.

The reader (python-hl7) splits each field once however many components it reads; the ACK is built
by hl7apy once per kind and only its time and control ids are set from one message to the next.
These tests hold both to what the message says and to what hl7apy builds field by field. The
ACKs are read back with the other library (`hl7`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import hl7
import pytest

from app.adt.ack import ack_message, build_ack
from app.adt.message import Identifier, Location, MessageRefused, parse
from app.timeutil import LONDON

MSH = "MSH|^~\\&|PAS|RVY|HOMEFIRST|SEFTON|20260701101500||ADT^A02^ADT_A02|CTRL-1|P|2.4"


def test_every_item_is_read_with_escapes_undone_and_repetitions_kept() -> None:
    pv1 = ["PV1", "1", "I", "W\\F\\1^Bay \\T\\ 2^BED 3^SDGH^ignored"]
    pv1 += [""] * 32 + ["19^home"] + [""] * 7 + ["202607010800", "20260701120000+0100"]
    msg = parse(
        "\r".join(
            [
                MSH,
                "EVN|A02|20260701101400|||X|20260701100000",
                "PID|1||9990000018^^^NHS^NH~RVY\\S\\7^^^RVY^MR~^^^RVY^MR~LOC9^^^^MR||A^B",
                "MRG|RVY0001^^^RVY^MR",
                "|".join(pv1),
                "PV2|||||||||20260705",
            ]
        )
    )
    assert (msg.application, msg.facility, msg.control_id, msg.version) == (
        "PAS",
        "RVY",
        "CTRL-1",
        "2.4",
    )
    assert (msg.message_code, msg.trigger, msg.message_type) == ("ADT", "A02", "ADT^A02")
    # Summer time: the times without an offset are London's, an hour ahead of UTC.
    assert msg.sent_at == datetime(2026, 7, 1, 9, 15, tzinfo=UTC)
    assert msg.recorded_at == datetime(2026, 7, 1, 9, 14, tzinfo=UTC)
    assert msg.occurred_at == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    assert msg.event_at == msg.occurred_at
    assert msg.identifiers == (
        Identifier("9990000018", "NHS", "NH"),
        Identifier("RVY^7", "RVY", "MR"),  # \S\ is the component separator, escaped
        Identifier("LOC9", "", "MR"),  # the repetition with no value is not an identifier
    )
    assert msg.merged == (Identifier("RVY0001", "RVY", "MR"),)
    assert msg.location == Location("W|1", "Bay & 2", "BED 3", "SDGH")
    assert msg.location.bed_label == "Bay & 2 BED 3"
    assert msg.disposition == "19^home"  # the field's text, components and all
    assert msg.admitted_at == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    assert msg.discharged_at == datetime(2026, 7, 1, 11, 0, tzinfo=UTC)  # its own offset
    assert msg.expected_discharge == date(2026, 7, 5)


def test_absent_segments_and_fields_read_as_nothing() -> None:
    msg = parse(MSH.replace("ADT^A02^ADT_A02", "ADT^A02") + "\rPV1|1|I")
    assert (msg.recorded_at, msg.occurred_at, msg.event_at) == (
        None,
        None,
        datetime(2026, 7, 1, 9, 15, tzinfo=UTC),
    )
    assert (msg.identifiers, msg.merged, msg.location, msg.disposition) == ((), (), None, None)
    assert (msg.admitted_at, msg.discharged_at, msg.expected_discharge) == (None, None, None)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (MSH.replace("|CTRL-1|", "||"), "no_control_id"),
        (MSH + "\rEVN|A02|2026070110", "bad_time"),  # YYYYMMDDHH: no minutes
        (MSH + "\rPV1|1|I|W1^^^SDGH" + "|" * 41 + "20261301", "bad_time"),
        (MSH + "\rPV2|||||||||20260231", "bad_time"),
        (MSH.replace("|2.4", "|9.9"), "unparseable"),
        ("PID|1", "unparseable"),
    ],
)
def test_a_bad_item_is_refused_with_its_code(raw: str, code: str) -> None:
    with pytest.raises(MessageRefused) as refused:
        parse(raw)
    assert refused.value.code == code


ACK_OF: dict[str, object] = {  # the message acknowledged, unless a test says otherwise
    "code": "AA",
    "control_id": "CTRL-1",
    "trigger": "A02",
    "version": "2.4",
    "sender_application": "PAS",
    "sender_facility": "RVY",
    "now": datetime(2026, 7, 1, 9, 15, tzinfo=UTC),
}


def _ack(**changes: object) -> str:
    return build_ack(**(ACK_OF | changes))  # type: ignore[arg-type]


def _whole(**changes: object) -> str:
    """The same ACK built field by field by hl7apy, with nothing kept."""
    values = ACK_OF | changes
    text = values.get("text")
    message = ack_message(
        str(values["code"]),
        str(values["trigger"]),
        str(values["version"]),
        str(values["sender_application"]),
        str(values["sender_facility"]),
        re.sub(r"[\^~&\\]", " ", str(text)) if text else None,
        values.get("error_code"),  # type: ignore[arg-type]
        values.get("hl7_error_code"),  # type: ignore[arg-type]
        sent_at=values["now"].astimezone(LONDON).strftime("%Y%m%d%H%M%S"),  # type: ignore[attr-defined]
        own_control_id="0" * 20,
        acknowledged=str(values["control_id"]),
    )
    return str(message.to_er7())


def _without_own_id(ack: str) -> str:
    msh, *rest = ack.split("\r")
    fields = msh.split("|")
    assert len(fields[9]) == 20  # the ACK's own control id: new each time
    fields[9] = ""
    return "\r".join(["|".join(fields), *rest])


ERRORS = {
    "code": "AE",
    "text": "no open spell ^ for & this~patient \\ here",
    "error_code": "no_open_spell",
    "hl7_error_code": "204",
}


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.9"])
@pytest.mark.parametrize("outcome", [{}, ERRORS])
def test_an_ack_built_again_says_what_hl7apy_builds_field_by_field(
    version: str, outcome: dict[str, str]
) -> None:
    first = _ack(version=version, **outcome)
    later_at = datetime(2026, 7, 2, 8, 0, tzinfo=UTC)
    later = _ack(version=version, control_id="CTRL-2", now=later_at, **outcome)
    whole = _whole(version=version, control_id="CTRL-2", now=later_at, **outcome)
    assert _without_own_id(later) == _without_own_id(whole)
    assert first.split("\r")[0].split("|")[9] != later.split("\r")[0].split("|")[9]
    read = hl7.parse(later)
    assert str(read.segment("MSH")[7]) == "20260702090000"  # London time: BST
    assert (str(read.segment("MSA")[1]), str(read.segment("MSA")[2])) == (
        outcome.get("code", "AA"),
        "CTRL-2",
    )
    assert str(hl7.parse(first).segment("MSA")[2]) == "CTRL-1"


def test_a_control_id_with_delimiters_is_acknowledged_escaped() -> None:
    control_id = "A|B^C&D~E\\F"
    ack = _ack(control_id=control_id)
    assert _without_own_id(ack) == _without_own_id(_whole(control_id=control_id))
    read = hl7.parse(ack)
    msa = read.segment("MSA")
    assert len(msa) == 3  # MSA, MSA-1, MSA-2: nothing split off
    assert read.unescape(str(msa[2])) == control_id


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.6"])
def test_a_refusal_carries_an_err_segment_in_every_version(version: str) -> None:
    """HL7 table 0357's code in ERR: ERR-1.4 up to 2.4 (CM_ELD in 2.3, ELD after), ERR-3 from
    2.5 with HomeFirst's own code in ERR-5."""
    read = hl7.parse(_ack(version=version, **ERRORS))
    err = read.segment("ERR")
    if version in ("2.3", "2.3.1", "2.4"):
        assert str(err[1][0][3][0]) == "204"
        assert str(err[1][0][3][1]).startswith("no open spell")
    else:
        assert str(err[3][0][0]) == "204"
        assert str(err[5]) == "no_open_spell"
    assert str(read.segment("MSA")[3]) == "no open spell   for   this patient   here"
