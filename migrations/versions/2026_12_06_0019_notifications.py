"""Notifications: subscriptions, the outbox and one delivery record per recipient and channel.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

- `notification_subscriptions`: a person, a team (an organisation's holders of a role) or an
  organisation subscribed to a kind on a channel (in the app, email, webhook); unique per
  subject, kind and channel.
- `notifications`: the outbox, written in the transaction of the change that caused the event;
  `fanned_out_at` is set by the delivery job.
- `notification_deliveries`: unique per (notification, recipient, channel), with attempts, the
  next attempt's time, and `dead` once the attempts run out.

New tables only; the downgrade drops them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("link", sa.String(length=500), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column(
            "targets", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("fanned_out_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_case_id"), "notifications", ["case_id"])
    op.create_index("ix_notifications_pending", "notifications", ["fanned_out_at", "id"])

    op.create_table(
        "notification_subscriptions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("secret", sa.String(length=128), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_subscriptions_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_subscriptions")),
        sa.UniqueConstraint(
            "subject",
            "kind",
            "channel",
            name=op.f("uq_notification_subscriptions_subject_kind_channel"),
        ),
    )
    for column in ("kind", "organisation", "user_id"):
        op.create_index(
            op.f(f"ix_notification_subscriptions_{column}"),
            "notification_subscriptions",
            [column],
        )

    op.create_table(
        "notification_deliveries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("notification_id", sa.BigInteger(), nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=True),
        sa.Column("recipient", sa.String(length=160), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("read_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_deliveries_notification_id_notifications"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["notification_subscriptions.id"],
            name=op.f("fk_notification_deliveries_subscription_id_notification_subscriptions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint(
            "notification_id",
            "recipient",
            "channel",
            name=op.f("uq_notification_deliveries_notification_id_recipient_channel"),
        ),
    )
    op.create_index(
        "ix_notification_deliveries_due", "notification_deliveries", ["status", "next_attempt_at"]
    )
    for column in ("organisation", "subscription_id", "user_id"):
        op.create_index(
            op.f(f"ix_notification_deliveries_{column}"), "notification_deliveries", [column]
        )


def downgrade() -> None:
    op.drop_table("notification_deliveries")
    op.drop_table("notification_subscriptions")
    op.drop_table("notifications")
