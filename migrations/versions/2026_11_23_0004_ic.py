"""Intermediate care: services with capacity per site and model, and their append-only audit.

Occupancy and the waiting list are derived from the episodes (cases) themselves; nothing else
is stored. The audit refuses UPDATE and DELETE in the database, as case events do (0001).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.models.ddl import allow_changes, refuse_changes

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT = "ic_service_changes"


def _id() -> "sa.Column[int]":
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "ic_services",
        _id(),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ic_services")),
        sa.UniqueConstraint("code", name=op.f("uq_ic_services_code")),
    )
    with op.batch_alter_table("ic_services", schema=None) as batch_op:
        batch_op.create_index("ix_ic_services_site_model", ["site", "model"], unique=False)
    op.create_table(
        AUDIT,
        _id(),
        sa.Column("service_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column(
            "changes",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("actor_username", sa.String(length=64), nullable=False),
        sa.Column("actor_org", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["ic_services.id"],
            name=op.f("fk_ic_service_changes_service_id_ic_services"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ic_service_changes")),
    )
    with op.batch_alter_table(AUDIT, schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ic_service_changes_service_id"), ["service_id"])
    refuse_changes(AUDIT)


def downgrade() -> None:
    allow_changes(AUDIT)
    with op.batch_alter_table(AUDIT, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ic_service_changes_service_id"))
    op.drop_table(AUDIT)
    with op.batch_alter_table("ic_services", schema=None) as batch_op:
        batch_op.drop_index("ix_ic_services_site_model")
    op.drop_table("ic_services")
