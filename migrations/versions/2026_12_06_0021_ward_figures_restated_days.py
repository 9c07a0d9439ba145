"""Figures by ward, and finished days restated by late entries.

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-06

- `discharge_spells.ward`, `ward_at`: the ward named last in clinical time and that time
  (`app.discharge.wards`), filled here from each discharge case's events, so today's figures can
  be asked for one ward.
- `metric_snapshots.ward`: stored figures of one ward, or `*` for every ward (all rows so far).
  The unique key becomes (day, site, ward, organisation). The table stays append-only.
- `metric_restatements`: a finished day's figures computed again after a backdated entry changed
  them, beside the stored originals, with the differences; append-only.
- `metric_restatement_marks`: a queue of the days a backdated entry may have changed (one row
  per such entry, never blocking the transition that writes it), emptied by the restatement job.

The downgrade drops the new tables and columns, and with them every ward-level snapshot.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.models.ddl import allow_changes, refuse_changes

revision: str = "0021"
down_revision: str | None = "0018"  # MERGE: 0020
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WARD_EVENTS = ("open", "update_details", "ward_transfer")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("discharge_spells") as batch:
        batch.add_column(sa.Column("ward", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("ward_at", sa.DateTime(timezone=True), nullable=True))
    _fill_spell_wards()

    allow_changes("metric_snapshots")
    with op.batch_alter_table("metric_snapshots") as batch:
        batch.add_column(
            sa.Column("ward", sa.String(length=64), nullable=False, server_default="*")
        )
        batch.drop_constraint("uq_metric_snapshots_day_site_organisation", type_="unique")
        batch.create_unique_constraint(
            "uq_metric_snapshots_day_site_ward_organisation",
            ["day", "site", "ward", "organisation"],
        )
    refuse_changes("metric_snapshots")

    op.create_table(
        "metric_restatements",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("ward", sa.String(length=64), nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=False),
        sa.Column("snapshot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("differences", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_restatements")),
    )
    op.create_index(
        "ix_metric_restatements_key",
        "metric_restatements",
        ["day", "site", "ward", "organisation", "id"],
    )
    refuse_changes("metric_restatements")
    op.create_table(
        "metric_restatement_marks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_restatement_marks")),
    )


def downgrade() -> None:
    op.drop_table("metric_restatement_marks")
    allow_changes("metric_restatements")
    op.drop_table("metric_restatements")
    allow_changes("metric_snapshots")
    op.execute("DELETE FROM metric_snapshots WHERE ward <> '*'")
    with op.batch_alter_table("metric_snapshots") as batch:
        batch.drop_constraint("uq_metric_snapshots_day_site_ward_organisation", type_="unique")
        batch.create_unique_constraint(
            "uq_metric_snapshots_day_site_organisation", ["day", "site", "organisation"]
        )
        batch.drop_column("ward")
    refuse_changes("metric_snapshots")
    with op.batch_alter_table("discharge_spells") as batch:
        batch.drop_column("ward_at")
        batch.drop_column("ward")


def _fill_spell_wards() -> None:
    """Each spell row's ward: the one named last in clinical time (ties: last recorded)."""
    bind = op.get_bind()
    events = sa.table(
        "case_events",
        sa.column("case_id", sa.BigInteger),
        sa.column("seq", sa.Integer),
        sa.column("event", sa.String),
        sa.column("occurred_at", sa.DateTime(timezone=True)),
        sa.column("data", sa.JSON),
    )
    spells = sa.table(
        "discharge_spells",
        sa.column("case_id", sa.BigInteger),
        sa.column("ward", sa.String),
        sa.column("ward_at", sa.DateTime(timezone=True)),
    )
    latest: dict[int, tuple[Any, int, str]] = {}
    rows = bind.execute(
        sa.select(events.c.case_id, events.c.seq, events.c.occurred_at, events.c.data)
        .where(events.c.event.in_(WARD_EVENTS))
        .where(events.c.case_id.in_(sa.select(spells.c.case_id)))
    )
    for case_id, seq, occurred_at, data in rows:
        ward = (data or {}).get("ward")
        if not isinstance(ward, str) or not ward:
            continue
        key = (occurred_at, seq, ward)
        if case_id not in latest or key[:2] > latest[case_id][:2]:
            latest[case_id] = key
    for case_id, (occurred_at, _, ward) in latest.items():
        bind.execute(
            spells.update()
            .where(spells.c.case_id == case_id)
            .values(ward=ward, ward_at=occurred_at)
        )
