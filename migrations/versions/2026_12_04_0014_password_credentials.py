"""Passwords for people who sign in.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

- `password_credentials`: one row per user who has a password: its argon2id hash (never the
  password), when and by whom it was set, whether it must be changed at the next sign-in, and
  the run of failed sign-ins that locks the account for a while (`app.auth.passwords`).

A new table only: nothing existing is rebuilt, and the downgrade drops it (with the passwords:
after a downgrade people sign in with tokens, as before).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "password_credentials",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by_user_id", sa.BigInteger(), nullable=True),
        sa.Column("must_change", sa.Boolean(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["set_by_user_id"],
            ["users.id"],
            name=op.f("fk_password_credentials_set_by_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_password_credentials_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_password_credentials")),
    )
    with op.batch_alter_table("password_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_password_credentials_set_by_user_id"), ["set_by_user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("password_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_credentials_set_by_user_id"))
    op.drop_table("password_credentials")
