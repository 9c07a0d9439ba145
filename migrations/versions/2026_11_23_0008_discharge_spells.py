"""Live dashboard figures: the discharge spell projection and the figures computed ahead.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23

The rows are derived from the case events, so the upgrade fills them for the cases already
there, with the application's own derivation (`app.discharge.projection.rebuild`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "discharge_spells",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=True),
        sa.Column("hospital_system", sa.String(length=64), nullable=True),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("admitted_at", TS, nullable=True),
        sa.Column("admitted_day", sa.Integer(), nullable=True),
        sa.Column("left_at", TS, nullable=True),
        sa.Column("discharged_at", TS, nullable=True),
        sa.Column("discharged_day", sa.Integer(), nullable=True),
        sa.Column("discharge_pathway", sa.String(length=8), nullable=True),
        sa.Column("drd_day", sa.Integer(), nullable=True),
        sa.Column("nctr_last_start", TS, nullable=True),
        sa.Column("nctr_last_end", TS, nullable=True),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("ctr_last_at", TS, nullable=True),
        sa.Column("open_delays", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_discharge_spells_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_discharge_spells")),
    )
    with op.batch_alter_table("discharge_spells", schema=None) as batch_op:
        batch_op.create_index(
            "ix_discharge_spells_open",
            ["organisation"],
            unique=False,
            postgresql_where=sa.text("closed_at IS NULL"),
            sqlite_where=sa.text("closed_at IS NULL"),
        )
        batch_op.create_index("ix_discharge_spells_closed_at", ["closed_at"], unique=False)
    op.create_table(
        "discharge_delay_periods",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("marked_primary", sa.Boolean(), nullable=False),
        sa.Column("support_area", sa.String(length=200), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("codelist", sa.String(length=100), nullable=True),
        sa.Column("started_us", sa.BigInteger(), nullable=False),
        sa.Column("ended_us", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["discharge_spells.case_id"],
            name=op.f("fk_discharge_delay_periods_case_id_discharge_spells"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "ordinal", name=op.f("pk_discharge_delay_periods")),
    )
    with op.batch_alter_table("discharge_delay_periods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_discharge_delay_periods_open",
            ["case_id"],
            unique=False,
            postgresql_where=sa.text("ended_at IS NULL"),
            sqlite_where=sa.text("ended_at IS NULL"),
        )
        batch_op.create_index("ix_discharge_delay_periods_ended_at", ["ended_at"], unique=False)
    op.create_table(
        "live_figures",
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("part", sa.String(length=16), nullable=False),
        sa.Column("computed_at", TS, nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.PrimaryKeyConstraint("organisation", "site", "part", name=op.f("pk_live_figures")),
    )
    _backfill()


def _backfill() -> None:
    # Imported here: the derivation is the application's, and only the upgrade needs it.
    from app.discharge.projection import rebuild_default

    session = Session(bind=op.get_bind())
    try:
        rebuild_default(session)
        session.commit()  # joins the migration's transaction; alembic commits it
    finally:
        session.close()


def downgrade() -> None:
    op.drop_table("live_figures")
    op.drop_table("discharge_delay_periods")
    op.drop_table("discharge_spells")
