"""Actions and milestones on a case, and the alerts of the late ones.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07

- `case_actions`: the actions read model (`app.actions.readmodel`): one row per action added
  by a person or per cycle of a pathway milestone, derived from the case events. Empty here: no
  case has action events before discharge pathway version 5, and milestones start only from
  events of that version; `homefirst metrics rebuild` derives it again at any time.
- `action_alerts`: append-only; one row per action and due time that went overdue, so its owner
  is told once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.models.ddl import allow_changes, refuse_changes

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "case_actions",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "case_id",
            sa.BigInteger(),
            sa.ForeignKey("cases.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("ref", sa.String(48), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("milestone", sa.String(40), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("owner_organisation", sa.String(64), nullable=False),
        sa.Column("owner_role", sa.String(64), nullable=True),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_seq", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_seq", sa.Integer(), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("late_reason", sa.String(64), nullable=True),
        sa.Column("late_reasons", JSON, nullable=False),
        sa.Column("workflow_key", sa.String(64), nullable=False),
        sa.Column("case_organisation", sa.String(64), nullable=False),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("pathway", sa.String(16), nullable=True),
        sa.UniqueConstraint("case_id", "ref"),
    )
    op.create_index("ix_case_actions_case_id", "case_actions", ["case_id"])
    op.create_index(
        "ix_case_actions_owner", "case_actions", ["owner_organisation", "status", "due_at"]
    )
    op.create_index("ix_case_actions_assignee", "case_actions", ["assignee", "status"])
    op.create_index("ix_case_actions_due", "case_actions", ["status", "due_at"])
    op.create_table(
        "action_alerts",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("ref", sa.String(48), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner_organisation", sa.String(64), nullable=False),
        sa.UniqueConstraint("case_id", "ref", "due_at"),
    )
    op.create_index("ix_action_alerts_case_id", "action_alerts", ["case_id"])
    refuse_changes("action_alerts")


def downgrade() -> None:
    allow_changes("action_alerts")
    op.drop_table("action_alerts")
    op.drop_index("ix_case_actions_due", table_name="case_actions")
    op.drop_index("ix_case_actions_assignee", table_name="case_actions")
    op.drop_index("ix_case_actions_owner", table_name="case_actions")
    op.drop_index("ix_case_actions_case_id", table_name="case_actions")
    op.drop_table("case_actions")
