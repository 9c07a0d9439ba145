"""Partner statements of the delay ledger (issue 19, item 1).

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-07

- `ledger_statements`: a month's delayed bed days and cost for one responsible organisation,
  as published (version 1) and as restated after late entries (versions 2+), append-only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.models.ddl import allow_changes, refuse_changes

revision: str = "0024"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ledger_statements",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("responsible", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("as_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("definitions", sa.Integer(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("differences", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_statements")),
        sa.UniqueConstraint(
            "organisation",
            "responsible",
            "month",
            "version",
            name=op.f("uq_ledger_statements_organisation_responsible_month_version"),
        ),
    )
    refuse_changes("ledger_statements")


def downgrade() -> None:
    allow_changes("ledger_statements")
    op.drop_table("ledger_statements")
