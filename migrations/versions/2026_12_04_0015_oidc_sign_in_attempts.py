"""Sign-in attempts through an OpenID Connect provider.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

`oidc_sign_in_attempts`: one row for each browser sent to an identity provider, holding the
state, nonce and PKCE verifier the callback must match (the browser's cookie holds a random id,
the row its SHA-256). Rows are used once and deleted some time after they expire.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oidc_sign_in_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("attempt_hash", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("next_path", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_sign_in_attempts")),
        sa.UniqueConstraint("attempt_hash", name=op.f("uq_oidc_sign_in_attempts_attempt_hash")),
    )
    with op.batch_alter_table("oidc_sign_in_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oidc_sign_in_attempts_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("oidc_sign_in_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_sign_in_attempts_expires_at"))
    op.drop_table("oidc_sign_in_attempts")
