"""CHC claims at scale: work items of closed cases retire; indexes for the claim path.

- `chc_work_items.retired_at`: when the case closed. A trigger on `cases` keeps it (set when
  `is_open` turns false, cleared if it turns true), whichever code path closes the case; existing
  rows of closed cases are back-filled with the case's `updated_at`.
- `ix_chc_work_items_queue`: (organisation, rag_rank, waiting_since, case_id) over items not
  retired: the claim's `ORDER BY ... LIMIT 1 FOR UPDATE SKIP LOCKED` reads it in queue order and
  stops at the first free item, instead of walking every item ever claimed.
- `ix_chc_work_items_live_claims`: claimed_by_id over claimed items not retired: the claim-limit
  check reads an assessor's own claims instead of scanning the table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "retired_at IS NULL"
LIVE_CLAIM = "claimed_by_id IS NOT NULL AND retired_at IS NULL"
TRIGGER = "cases_retire_chc_work_item"
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION homefirst_chc_retire_work_item() RETURNS trigger AS $$
BEGIN
    UPDATE chc_work_items
    SET retired_at = CASE WHEN NEW.is_open THEN NULL ELSE NEW.updated_at END
    WHERE case_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
PG_TRIGGER = """
CREATE TRIGGER cases_retire_chc_work_item AFTER UPDATE OF is_open ON cases
FOR EACH ROW WHEN (OLD.is_open IS DISTINCT FROM NEW.is_open)
EXECUTE FUNCTION homefirst_chc_retire_work_item()
"""
SQLITE_TRIGGER = """
CREATE TRIGGER cases_retire_chc_work_item AFTER UPDATE OF is_open ON cases
FOR EACH ROW WHEN OLD.is_open IS NOT NEW.is_open
BEGIN
    UPDATE chc_work_items
    SET retired_at = CASE WHEN NEW.is_open THEN NULL ELSE NEW.updated_at END
    WHERE case_id = NEW.id;
END
"""


def upgrade() -> None:
    with op.batch_alter_table("chc_work_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))
    cases = sa.table(
        "cases", sa.column("id"), sa.column("is_open", sa.Boolean()), sa.column("updated_at")
    )
    items = sa.table("chc_work_items", sa.column("case_id"), sa.column("retired_at"))
    closed_at = sa.select(cases.c.updated_at).where(cases.c.id == items.c.case_id).scalar_subquery()
    op.execute(
        items.update()
        .where(items.c.case_id.in_(sa.select(cases.c.id).where(cases.c.is_open.is_(False))))
        .values(retired_at=closed_at)
    )
    with op.batch_alter_table("chc_work_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chc_work_items_queue",
            ["organisation", "rag_rank", "waiting_since", "case_id"],
            unique=False,
            postgresql_where=sa.text(LIVE),
            sqlite_where=sa.text(LIVE),
        )
        batch_op.create_index(
            "ix_chc_work_items_live_claims",
            ["claimed_by_id"],
            unique=False,
            postgresql_where=sa.text(LIVE_CLAIM),
            sqlite_where=sa.text(LIVE_CLAIM),
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON cases")
        op.execute("DROP FUNCTION IF EXISTS homefirst_chc_retire_work_item()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
    with op.batch_alter_table("chc_work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_chc_work_items_live_claims")
        batch_op.drop_index("ix_chc_work_items_queue")
        batch_op.drop_column("retired_at")
