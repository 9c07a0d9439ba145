"""CHC import jobs: an upload is spooled and imported in the background, in batches.

`chc_imports` becomes the job: its state (queued, running, done, failed), the checkpoint (the
next spreadsheet row, committed with each batch), progress, the runner's lease and the reason
of a failure. `chc_import_chunks` holds the uploaded file until its job is done;
`chc_import_report_parts` holds the report's entries one batch and list at a time.

Imports made before this revision are `done`, with their whole report still in
`chc_imports.report`. The downgrade folds the report parts back into that column.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
PENDING = "state IN ('queued', 'running')"
# The lists of the report, in the order the report gives them.
KINDS = ("accepted", "merged", "conflicts", "rejected", "unchanged", "warnings", "blank_rows")


def upgrade() -> None:
    with op.batch_alter_table("chc_imports", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=16), server_default="done", nullable=False)
        )
        batch_op.add_column(sa.Column("next_row", sa.Integer(), server_default="2", nullable=False))
        batch_op.add_column(
            sa.Column("rows_read", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("error", sa.String(length=1000), nullable=True))
        batch_op.create_index(
            "ix_chc_imports_pending",
            ["id"],
            unique=False,
            postgresql_where=sa.text(PENDING),
            sqlite_where=sa.text(PENDING),
        )
    # Imports before this revision ran whole, in their request: done when they were uploaded.
    op.execute(
        "UPDATE chc_imports SET rows_read = rows_total, started_at = imported_at, "
        "finished_at = imported_at"
    )
    op.create_table(
        "chc_import_chunks",
        sa.Column("import_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["chc_imports.id"],
            name=op.f("fk_chc_import_chunks_import_id_chc_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", "seq", name=op.f("pk_chc_import_chunks")),
    )
    op.create_table(
        "chc_import_report_parts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("import_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("first_row", sa.Integer(), nullable=False),
        sa.Column("entries", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["chc_imports.id"],
            name=op.f("fk_chc_import_report_parts_import_id_chc_imports"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chc_import_report_parts")),
    )
    with op.batch_alter_table("chc_import_report_parts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chc_import_report_parts_read", ["import_id", "kind", "first_row"], unique=False
        )


def downgrade() -> None:
    _fold_report_parts()
    with op.batch_alter_table("chc_import_report_parts", schema=None) as batch_op:
        batch_op.drop_index("ix_chc_import_report_parts_read")
    op.drop_table("chc_import_report_parts")
    op.drop_table("chc_import_chunks")
    op.drop_index(
        "ix_chc_imports_pending",
        table_name="chc_imports",
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+ has it): a batch would rebuild the table,
    # and SQLite refuses to drop a table other tables' foreign keys point at.
    for column in (
        "error",
        "finished_at",
        "started_at",
        "attempts",
        "lease_expires_at",
        "lease_owner",
        "rows_read",
        "next_row",
        "state",
    ):
        op.execute(f"ALTER TABLE chc_imports DROP COLUMN {column}")


def _fold_report_parts() -> None:
    """Before this revision the whole report lived in `chc_imports.report`: put it back there
    for every import that has parts (an import still running keeps what it had done)."""
    bind = op.get_bind()
    imports = sa.table(
        "chc_imports",
        sa.column("id", sa.BigInteger()),
        sa.column("report", JSON),
        sa.column("source_list", sa.String()),
        sa.column("filename", sa.String()),
        sa.column("sha256", sa.String()),
        sa.column("encoding", sa.String()),
        sa.column("rows_total", sa.Integer()),
        sa.column("imported_by", sa.String()),
        sa.column("imported_at", sa.DateTime(timezone=True)),
        sa.column("accepted", sa.Integer()),
        sa.column("merged", sa.Integer()),
        sa.column("conflicts", sa.Integer()),
        sa.column("rejected", sa.Integer()),
        sa.column("unchanged", sa.Integer()),
    )
    parts = sa.table(
        "chc_import_report_parts",
        sa.column("id", sa.BigInteger()),
        sa.column("import_id", sa.BigInteger()),
        sa.column("kind", sa.String()),
        sa.column("first_row", sa.Integer()),
        sa.column("entries", JSON),
    )
    ids = [r[0] for r in bind.execute(sa.select(parts.c.import_id).distinct())]
    for import_id in ids:
        lists: dict[str, list[Any]] = defaultdict(list)
        rows = bind.execute(
            sa.select(parts.c.kind, parts.c.entries)
            .where(parts.c.import_id == import_id)
            .order_by(parts.c.kind, parts.c.first_row, parts.c.id)
        )
        for kind, entries in rows:
            lists[kind].extend(entries)
        row = bind.execute(sa.select(imports).where(imports.c.id == import_id)).one()
        counts = {k: getattr(row, k) for k in KINDS[:5]}
        report = {
            "import_id": import_id,
            "source": row.source_list,
            "filename": row.filename,
            "sha256": row.sha256,
            "encoding": row.encoding,
            "imported_by": row.imported_by,
            "imported_at": row.imported_at.isoformat(),
            "already_imported": False,
            "rows_total": row.rows_total,
            **dict(row.report or {}),
            "counts": counts,
            **{k: lists.get(k, []) for k in KINDS},
        }
        bind.execute(imports.update().where(imports.c.id == import_id).values(report=report))
