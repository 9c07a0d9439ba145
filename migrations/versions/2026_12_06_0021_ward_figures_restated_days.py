"""Figures by ward and of expected discharge dates, and finished days restated by late entries.

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-06

- `discharge_spells.ward`, `ward_at`: the ward named last in clinical time and that time
  (`app.discharge.wards`), so today's figures can be asked for one ward; `edd_day`, `edd_at`,
  `first_edd_day`, `first_edd_at`: the expected discharge date in force and the first one set
  (`app.discharge.edd`). All filled here from each discharge case's events.
- `metric_snapshots.ward`: stored figures of one ward, or `*` for every ward (all rows so far).
  The unique key becomes (day, site, ward, organisation). The table stays append-only.
- `metric_restatements`: a finished day's figures computed again after a backdated entry changed
  them, beside the stored originals, with the differences; append-only.
- `metric_restatement_marks`: a queue of the days a backdated entry may have changed (one row
  per such entry, never blocking the transition that writes it), emptied by the restatement job.

The downgrade drops the new tables and columns, and with them every ward-level snapshot.
"""

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.models.ddl import allow_changes, refuse_changes

revision: str = "0021"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WARD_EVENTS = ("open", "update_details", "ward_transfer")
EDD_EVENTS = ("open", "accept", "update_details")
EVENTS = tuple(sorted(set(WARD_EVENTS) | set(EDD_EVENTS)))
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("discharge_spells") as batch:
        batch.add_column(sa.Column("ward", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("ward_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("edd_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("edd_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("first_edd_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("first_edd_at", sa.DateTime(timezone=True), nullable=True))
    _fill_spells()

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
        for column in ("first_edd_at", "first_edd_day", "edd_at", "edd_day", "ward_at", "ward"):
            batch.drop_column(column)


def _fill_spells() -> None:
    """Each spell row's ward (named last in clinical time; ties: last recorded) and expected
    discharge dates (the one in force, set last; the first one set)."""
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
        sa.column("edd_day", sa.Integer),
        sa.column("edd_at", sa.DateTime(timezone=True)),
        sa.column("first_edd_day", sa.Integer),
        sa.column("first_edd_at", sa.DateTime(timezone=True)),
    )
    wards: dict[int, tuple[Any, int, str]] = {}
    edds: dict[int, list[tuple[Any, int, date]]] = {}
    rows = bind.execute(
        sa.select(
            events.c.case_id, events.c.seq, events.c.event, events.c.occurred_at, events.c.data
        )
        .where(events.c.event.in_(EVENTS))
        .where(events.c.case_id.in_(sa.select(spells.c.case_id)))
    )
    for case_id, seq, event, occurred_at, data in rows:
        ward = (data or {}).get("ward") if event in WARD_EVENTS else None
        if isinstance(ward, str) and ward:
            key = (occurred_at, seq, ward)
            if case_id not in wards or key[:2] > wards[case_id][:2]:
                wards[case_id] = key
        edd = (data or {}).get("expected_discharge_date") if event in EDD_EVENTS else None
        if isinstance(edd, str) and edd:
            edds.setdefault(case_id, []).append((occurred_at, seq, date.fromisoformat(edd)))
    for case_id in wards.keys() | edds.keys():
        values: dict[str, Any] = {}
        if case_id in wards:
            at, _, ward = wards[case_id]
            values.update(ward=ward, ward_at=at)
        if case_id in edds:
            ordered = sorted(edds[case_id], key=lambda e: (e[0], e[1]))
            values.update(
                edd_day=ordered[-1][2].toordinal(),
                edd_at=ordered[-1][0],
                first_edd_day=ordered[0][2].toordinal(),
                first_edd_at=ordered[0][0],
            )
        bind.execute(spells.update().where(spells.c.case_id == case_id).values(**values))
