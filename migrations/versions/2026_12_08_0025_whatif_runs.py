"""What-if runs (issue 19, item 3).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08

- `whatif_runs`: a manager's capacity scenario, queued for the background job (claimed under a
  lease), with the observed inputs it ran on and its result.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
PENDING = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "whatif_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scenario", JSON, nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("weeks", sa.Integer(), nullable=False),
        sa.Column("inputs", JSON, nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatif_runs")),
    )
    op.create_index(
        "ix_whatif_runs_organisation", "whatif_runs", ["organisation", "id"], unique=False
    )
    op.create_index(
        "ix_whatif_runs_pending",
        "whatif_runs",
        ["id"],
        unique=False,
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )


def downgrade() -> None:
    op.drop_index("ix_whatif_runs_pending", table_name="whatif_runs")
    op.drop_index("ix_whatif_runs_organisation", table_name="whatif_runs")
    op.drop_table("whatif_runs")
