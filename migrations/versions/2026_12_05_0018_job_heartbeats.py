"""Background jobs' heartbeats: when each last finished a run, for readiness.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05

- `job_heartbeats`: one row per background job (the clock sweeper, the live-figures refresher),
  overwritten at the end of each successful run with the period it runs at and which process ran
  it. `/readyz` fails when a job's row is older than three periods.

A new table only; the downgrade drops it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_heartbeats",
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("period_seconds", sa.Float(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("runner", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_job_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table("job_heartbeats")
