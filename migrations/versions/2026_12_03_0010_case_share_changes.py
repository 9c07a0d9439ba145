"""The case's sharing audit: an append-only log of every share and withdrawal.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

The shares already there are copied in as `shared` entries (who, when and why from the share
itself; the sharer's organisation from their user), so the log accounts for every current share.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.ddl import allow_changes, refuse_changes

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE = "case_share_changes"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_username", sa.String(length=64), nullable=False),
        sa.Column("actor_org", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_share_changes_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_share_changes")),
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_share_changes_case_id"), ["case_id"])
    op.execute(
        f"INSERT INTO {TABLE} "  # noqa: S608 - constant names only
        "(case_id, action, organisation, reason, actor_id, actor_username, actor_org, at) "
        "SELECT s.case_id, 'shared', s.organisation, s.reason, u.id, s.created_by, "
        "COALESCE(u.organisation, 'unknown'), s.created_at "
        "FROM case_shares s LEFT JOIN users u ON u.username = s.created_by ORDER BY s.id"
    )
    refuse_changes(TABLE)


def downgrade() -> None:
    allow_changes(TABLE)
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_share_changes_case_id"))
    op.drop_table(TABLE)
