"""Acknowledgements (original acknowledgement mode): AA once the change is committed; AE when
the message could not be applied, AR when it is unacceptable, each with an ERR segment saying
why. Built with hl7apy, which escapes the text it is given."""

from __future__ import annotations

import re
import threading
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
    # from one ACK to the next of a feed: the rest is kept built (hl7apy takes about as long to
    # set a field as to parse one), per thread since an hl7apy message is changed in place.
    key: tuple[str | None, ...] = (code, trigger, version, sender_application, sender_facility)
    key += (text, error_code, hl7_error_code)
    kept: dict[tuple[str | None, ...], Message] = _kept.__dict__.setdefault("acks", {})
    ack = kept.get(key)
    if ack is None:
        if len(kept) >= _KEPT_PER_THREAD:
            kept.clear()
        ack = kept[key] = _ack(
            code,
            trigger,
            version,
            sender_application,
            sender_facility,
            text,
            error_code,
            hl7_error_code,
        )
    ack.msh.msh_7 = now.astimezone(LONDON).strftime("%Y%m%d%H%M%S")
    ack.msh.msh_10 = uuid.uuid4().hex[:20]  # MSH-10 holds at most 20 characters in 2.4
    ack.msa.msa_2 = control_id
    return str(ack.to_er7())


_kept = threading.local()
_KEPT_PER_THREAD = 64  # distinct ACKs (sender, trigger, outcome and words) kept built


def _ack(
    code: str,
    trigger: str,
    version: str,
    sender_application: str,
    sender_facility: str,
    text: str | None,
    error_code: str | None,
    hl7_error_code: str | None,
) -> Message:
    """An ACK with everything but MSH-7, MSH-10 and MSA-2, which `build_ack` sets each time
    (set here first too, so the fields are added in the order they always were)."""
    ack = Message("ACK", version=_version(version), validation_level=VALIDATION_LEVEL.TOLERANT)
    ack.msh.msh_3 = RECEIVING_APPLICATION
    ack.msh.msh_5 = sender_application
    ack.msh.msh_6 = sender_facility
    ack.msh.msh_7 = ""
    ack.msh.msh_9 = f"ACK^{trigger}^ACK" if trigger else "ACK"
    ack.msh.msh_10 = ""
    ack.msh.msh_11 = "P"
    ack.msa.msa_1 = code
    ack.msa.msa_2 = ""
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
