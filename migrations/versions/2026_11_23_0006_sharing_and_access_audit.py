"""Organisation scoping (case shares) and the access audit of reads of patient data.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models.ddl import allow_changes, refuse_changes

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("access_records", "access_record_cases")


def upgrade() -> None:
    op.create_table(
        "case_shares",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_shares_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_shares")),
        sa.UniqueConstraint(
            "case_id", "organisation", name=op.f("uq_case_shares_case_id_organisation")
        ),
    )
    with op.batch_alter_table("case_shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_shares_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_shares_organisation"), ["organisation"], unique=False
        )
    op.create_table(
        "access_records",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("query", sa.String(length=500), nullable=False),
        sa.Column("case_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_records")),
    )
    with op.batch_alter_table("access_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_records_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_records_user_id"), ["user_id"], unique=False)
    op.create_table(
        "access_record_cases",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["access_records.id"],
            name=op.f("fk_access_record_cases_record_id_access_records"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_record_cases")),
    )
    with op.batch_alter_table("access_record_cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_record_cases_case_id"), ["case_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_access_record_cases_record_id"), ["record_id"], unique=False
        )
    for table in APPEND_ONLY:
        refuse_changes(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        allow_changes(table)
    op.drop_table("access_record_cases")
    op.drop_table("access_records")
    op.drop_table("case_shares")
