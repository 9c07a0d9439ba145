"""Acknowledgements (original acknowledgement mode): AA once the change is committed; AE when
the message could not be applied, AR when it is unacceptable, each with an ERR segment saying
why. Built with hl7apy, which escapes the text it is given."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message

from app.timeutil import LONDON

RECEIVING_APPLICATION = "HOMEFIRST"


def build_ack(
    *,
    code: str,
    control_id: str,
    trigger: str,
    version: str,
    sender_application: str,
    sender_facility: str,
    now: datetime,
    text: str | None = None,
    error_code: str | None = None,
    hl7_error_code: str | None = None,
) -> str:
    """The ACK for one message, as ER7 (segments joined by carriage returns)."""
    # Delimiters in the words would be read as components; hl7apy escapes only the field one.
    text = re.sub(r"[\^~&\\]", " ", text) if text else text
    # Only the time, the ACK's own control id and the acknowledged message's control id differ
    # from one ACK to the next of a feed. hl7apy builds each kind of ACK once (it takes about as
    # long to set a field as to parse a message); those three fields are then put in its ER7.
    key: tuple[str | None, ...] = (code, trigger, version, sender_application, sender_facility)
    key += (text, error_code, hl7_error_code)
    template = _templates.get(key)
    if template is None:
        if len(_templates) >= _TEMPLATES_KEPT:
            _templates.clear()
        built = ack_message(
            code,
            trigger,
            version,
            sender_application,
            sender_facility,
            text,
            error_code,
            hl7_error_code,
            sent_at=_PLACEHOLDER,
            own_control_id=_PLACEHOLDER,
            acknowledged=_PLACEHOLDER,
        )
        msh_er7, msa_er7, *others = str(built.to_er7()).split("\r")
        template = (tuple(msh_er7.split("|")), tuple(msa_er7.split("|")), tuple(others))
        _templates[key] = template
    msh_fields, msa_fields, rest = template
    msh = list(msh_fields)
    # MSH-1 is the field separator itself, so MSH-n is the (n-1)th item of the split segment.
    msh[6] = now.astimezone(LONDON).strftime("%Y%m%d%H%M%S")  # MSH-7
    msh[9] = uuid.uuid4().hex[:20]  # MSH-10, at most 20 characters in 2.4
    msa = list(msa_fields)
    msa[2] = _escape(control_id)  # MSA-2
    return "\r".join(["|".join(msh), "|".join(msa), *rest])


# Kinds of ACK (sender, trigger, outcome and words) kept as ER7 split into fields: tuples, so
# threads share them without a lock.
_templates: dict[tuple[str | None, ...], tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]
_templates = {}
_TEMPLATES_KEPT = 256
_PLACEHOLDER = "0"


def _escape(value: str) -> str:
    """A value as ER7 text, its delimiters escaped (the escape character first)."""
    for char, sequence in (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\")):
        value = value.replace(char, sequence)
    return value.replace("~", "\\R\\")


def ack_message(
    code: str,
    trigger: str,
    version: str,
    sender_application: str,
    sender_facility: str,
    text: str | None,
    error_code: str | None,
    hl7_error_code: str | None,
    *,
    sent_at: str,
    own_control_id: str,
    acknowledged: str,
) -> Message:
    """The whole ACK as an hl7apy message (the tests hold `build_ack` equal to it)."""
    ack = Message("ACK", version=_version(version), validation_level=VALIDATION_LEVEL.TOLERANT)
    ack.msh.msh_3 = RECEIVING_APPLICATION
    ack.msh.msh_5 = sender_application
    ack.msh.msh_6 = sender_facility
    ack.msh.msh_7 = sent_at
    ack.msh.msh_9 = f"ACK^{trigger}^ACK" if trigger else "ACK"
    ack.msh.msh_10 = own_control_id
    ack.msh.msh_11 = "P"
    ack.msa.msa_1 = code
    ack.msa.msa_2 = _escape(acknowledged)
    if text:
        ack.msa.msa_3 = text[:80]
    if code != "AA":
        _err(ack, hl7_error_code or "207", error_code or "error", text or "")
    return ack


def _err(ack: Message, hl7_code: str, code: str, text: str) -> None:
    """The ERR segment: the HL7 error code (table 0357) and the words for the person at the
    interface engine; from 2.5 also the severity and HomeFirst's own code (ERR-5)."""
    if ack.version in _BEFORE_25:
        # ERR-1 is an ELD; in 2.3 a CM_ELD, whose components hl7apy names after that type.
        where = ack.err.err_1.cm_eld_4 if ack.version == "2.3" else ack.err.err_1.eld_4
        where.ce_1, where.ce_2, where.ce_3 = hl7_code, text[:200], "HL70357"
        return
    ack.err.err_3.cwe_1, ack.err.err_3.cwe_3 = hl7_code, "HL70357"
    ack.err.err_4 = "E"
    ack.err.err_5.cwe_1 = code
    ack.err.err_8 = text[:250]


_BEFORE_25 = {"2.3", "2.3.1", "2.4"}


def _version(version: str) -> str:
    """Answer in the sender's version when hl7apy knows it, else 2.4."""
    return version if version in {"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6"} else "2.4"
