"""HL7 v2 ADT messages from the hospital's PAS (app/adt): the log of every message received,
which is also how a repeat is recognised and where a refused message waits for a person, and
what the feed has learnt about which local hospital number belongs to which NHS number.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK

# What became of a message.
APPLIED = "applied"  # its change is committed (or there was nothing to change): AA
IGNORED = "ignored"  # a message type HomeFirst does not use: AA, nothing written
REJECTED = "rejected"  # refused (AE/AR): a dead letter until a person retries or dismisses it
DISMISSED = "dismissed"  # a dead letter a person decided not to apply, with their reason


class AdtMessage(Base):
    __tablename__ = "adt_messages"
    # The sender's message control id (MSH-10) is unique per sender (MSH-3 and MSH-4): a repeat
    # is answered with the first answer and writes nothing, even when two connections race.
    __table_args__ = (
        UniqueConstraint("sender", "control_id"),
        Index("ix_adt_messages_outcome_received", "outcome", "received_at"),
        Index("ix_adt_messages_case_event", "case_id", "event_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    sender: Mapped[str] = mapped_column(String(160))  # "MSH-3|MSH-4"
    control_id: Mapped[str] = mapped_column(String(64))
    # The configured interface and its organisation; None when the sender is not configured.
    interface: Mapped[str | None] = mapped_column(String(64))
    organisation: Mapped[str | None] = mapped_column(String(64), index=True)
    message_type: Mapped[str] = mapped_column(String(16))  # e.g. ADT^A02
    # When the event happened (EVN-6, else EVN-2, else MSH-7), in UTC.
    event_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    ack_code: Mapped[str] = mapped_column(String(2))
    # Why it was refused: a stable code (machine-readable) and words for a person.
    error_code: Mapped[str | None] = mapped_column(String(48))
    error_text: Mapped[str | None] = mapped_column(Text)
    hl7_error: Mapped[str | None] = mapped_column(String(8))  # HL7 table 0357, for ERR
    # What it was about and did: the discharge case, and the events it appended.
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    events: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(500))  # e.g. "already discharged"
    raw: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(String(500))


class AdtPatientNumber(Base):
    """A local hospital number and the NHS number a message gave with it, per interface, so a
    later message carrying only the local number finds the patient."""

    __tablename__ = "adt_patient_numbers"
    __table_args__ = (UniqueConstraint("interface", "local_number"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    interface: Mapped[str] = mapped_column(String(64))
    local_number: Mapped[str] = mapped_column(String(32))
    nhs_number: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime]
    # Set when an A40 merged this number into another (the surviving number).
    merged_into: Mapped[str | None] = mapped_column(String(32))
