"""The daily escalation call (huddle) and what it notes about each patient.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04

- `huddles`: one call per organisation, site ('' for system-wide) and London day, with when it
  started and who started it.
- `huddle_notes`: append-only (the database refuses UPDATE and DELETE): each patient discussed,
  the action agreed, its owner and due date. The agenda shows a patient's latest note.

New tables only; the downgrade drops them (with the notes).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.ddl import allow_changes, refuse_changes

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "huddles",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_by_user_id", sa.BigInteger(), nullable=False),
        sa.Column("started_by_username", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["started_by_user_id"],
            ["users.id"],
            name=op.f("fk_huddles_started_by_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_huddles")),
        sa.UniqueConstraint(
            "organisation", "site", "held_on", name=op.f("uq_huddles_organisation_site_held_on")
        ),
    )
    with op.batch_alter_table("huddles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_huddles_started_by_user_id"), ["started_by_user_id"], unique=False
        )

    op.create_table(
        "huddle_notes",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("huddle_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_user_id", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by_username", sa.String(length=64), nullable=False),
        sa.Column("discussed", sa.Boolean(), nullable=False),
        sa.Column("action", sa.String(length=500), nullable=True),
        sa.Column("action_owner", sa.String(length=100), nullable=True),
        sa.Column("action_due", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_huddle_notes_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["huddle_id"],
            ["huddles.id"],
            name=op.f("fk_huddle_notes_huddle_id_huddles"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_user_id"],
            ["users.id"],
            name=op.f("fk_huddle_notes_recorded_by_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_huddle_notes")),
    )
    with op.batch_alter_table("huddle_notes", schema=None) as batch_op:
        batch_op.create_index("ix_huddle_notes_case_huddle", ["case_id", "huddle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_huddle_notes_huddle_id"), ["huddle_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_huddle_notes_recorded_by_user_id"), ["recorded_by_user_id"], unique=False
        )
    refuse_changes("huddle_notes")


def downgrade() -> None:
    allow_changes("huddle_notes")
    with op.batch_alter_table("huddle_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_huddle_notes_recorded_by_user_id"))
        batch_op.drop_index(batch_op.f("ix_huddle_notes_huddle_id"))
        batch_op.drop_index("ix_huddle_notes_case_huddle")
    op.drop_table("huddle_notes")
    with op.batch_alter_table("huddles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_huddles_started_by_user_id"))
    op.drop_table("huddles")
