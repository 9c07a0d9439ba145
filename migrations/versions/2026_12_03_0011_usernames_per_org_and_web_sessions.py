"""Usernames unique per organisation; signed-in browser sessions.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

- `users`: the unique username becomes unique (organisation, username), so an administrator
  choosing a name learns nothing about other organisations' users.
- `web_sessions`: server-side sessions of signed-in browsers (the cookie holds a random id,
  the row its SHA-256).

SQLite cannot drop a unique constraint: the table is rebuilt (Alembic's batch mode). Dropping
the old `users` table during the rebuild would trip the RESTRICT foreign keys that point at it,
and SQLite only lets foreign keys be switched off outside a transaction, so on SQLite the
rebuild runs in its own transaction with foreign keys off, checked before it commits (SQLite's
documented procedure for a table change); the migrations before it are committed first.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.schema_swaps import swap_unique

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    swap_unique("users", drop="uq_users_username", create=("organisation", "username"))
    op.create_table(
        "web_sessions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("token_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_web_sessions_token_id_api_tokens"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("session_hash", name=op.f("uq_web_sessions_session_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_token_id"), ["token_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_web_sessions_token_id"))
    op.drop_table("web_sessions")
    shared = (
        op.get_bind()
        .execute(sa.text("SELECT username FROM users GROUP BY username HAVING COUNT(*) > 1"))
        .scalars()
        .all()
    )
    if shared:
        raise RuntimeError(
            "cannot make usernames globally unique again: "
            f"{len(shared)} username(s) are used in more than one organisation"
        )
    swap_unique("users", drop="uq_users_organisation_username", create=("username",))
