"""IC placements: the read model occupancy is counted from.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

The rows are derived from the intermediate-care episodes, so the upgrade fills them for the
episodes already there with the application's own derivation (`app.ic.readmodel.rebuild`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ic_placements",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=True),
        sa.Column("service_id", sa.BigInteger(), nullable=True),
        sa.Column("occupying", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_ic_placements_case_id_cases"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_ic_placements")),
    )
    with op.batch_alter_table("ic_placements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ic_placements_occupying", ["service_id", "occupying"], unique=False
        )

    # Imported here: the derivation is the application's, and only the upgrade needs it.
    from app.ic.readmodel import rebuild

    session = Session(bind=op.get_bind())
    try:
        rebuild(session)
        session.commit()  # joins the migration's transaction; alembic commits it
    finally:
        session.close()


def downgrade() -> None:
    with op.batch_alter_table("ic_placements", schema=None) as batch_op:
        batch_op.drop_index("ix_ic_placements_occupying")
    op.drop_table("ic_placements")
