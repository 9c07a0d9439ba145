"""HL7 v2 ADT feed: the message log (repeats, dead letters) and local hospital numbers.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03

- `adt_messages`: every message received from a hospital's PAS, unique per sender and message
  control id (MSH-10), with what became of it, its acknowledgement code, why it was refused, and
  the raw message for a person to resolve a refused one.
- `adt_patient_numbers`: the NHS number a local hospital number was sent with, per interface.

New tables only; the downgrade drops them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "adt_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("sender", sa.String(length=160), nullable=False),
        sa.Column("control_id", sa.String(length=64), nullable=False),
        sa.Column("interface", sa.String(length=64), nullable=True),
        sa.Column("organisation", sa.String(length=64), nullable=True),
        sa.Column("message_type", sa.String(length=16), nullable=False),
        sa.Column("event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("ack_code", sa.String(length=2), nullable=False),
        sa.Column("error_code", sa.String(length=48), nullable=True),
        sa.Column("error_text", sa.Text(), nullable=True),
        sa.Column("hl7_error", sa.String(length=8), nullable=True),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("events", sa.String(length=200), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolution", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adt_messages")),
        sa.UniqueConstraint("sender", "control_id", name=op.f("uq_adt_messages_sender_control_id")),
    )
    with op.batch_alter_table("adt_messages", schema=None) as batch_op:
        batch_op.create_index("ix_adt_messages_case_event", ["case_id", "event_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_adt_messages_organisation"), ["organisation"], unique=False
        )
        batch_op.create_index(
            "ix_adt_messages_outcome_received", ["outcome", "received_at"], unique=False
        )

    op.create_table(
        "adt_patient_numbers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("interface", sa.String(length=64), nullable=False),
        sa.Column("local_number", sa.String(length=32), nullable=False),
        sa.Column("nhs_number", sa.String(length=10), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_into", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adt_patient_numbers")),
        sa.UniqueConstraint(
            "interface", "local_number", name=op.f("uq_adt_patient_numbers_interface_local_number")
        ),
    )


def downgrade() -> None:
    op.drop_table("adt_patient_numbers")
    with op.batch_alter_table("adt_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_adt_messages_outcome_received")
        batch_op.drop_index(batch_op.f("ix_adt_messages_organisation"))
        batch_op.drop_index("ix_adt_messages_case_event")

    op.drop_table("adt_messages")
