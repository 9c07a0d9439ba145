"""Discharge-to-assess: links between cases of different workflows.

The criteria-to-reside log and delay periods are the case's own events; nothing else is stored.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_links",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("from_case_id", sa.BigInteger(), nullable=False),
        sa.Column("to_case_id", sa.BigInteger(), nullable=False),
        sa.Column("link_type", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_case_id"],
            ["cases.id"],
            name=op.f("fk_case_links_from_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["to_case_id"],
            ["cases.id"],
            name=op.f("fk_case_links_to_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_links")),
        sa.UniqueConstraint(
            "from_case_id",
            "to_case_id",
            "link_type",
            name=op.f("uq_case_links_from_case_id_to_case_id_link_type"),
        ),
    )
    with op.batch_alter_table("case_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_links_from_case_id"), ["from_case_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_case_links_to_case_id"), ["to_case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_links_to_case_id"))
        batch_op.drop_index(batch_op.f("ix_case_links_from_case_id"))
    op.drop_table("case_links")
