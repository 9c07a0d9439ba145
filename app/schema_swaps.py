"""Schema operations the Alembic migrations share. They live in the installed `app` package
because `migrations/` is not importable from every working directory (the service migrates
itself wherever it is started)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def swap_unique(table: str, *, drop: str, create: tuple[str, ...]) -> None:
    """Replace a table's unique constraint `drop` with one on the columns `create`.

    SQLite cannot drop a constraint, so the table is rebuilt (Alembic's batch mode). Dropping
    the old table during the rebuild would trip the RESTRICT foreign keys that point at it, and
    SQLite only lets foreign keys be switched off outside a transaction, so on SQLite the rebuild
    runs in its own transaction with foreign keys off, checked before it commits (SQLite's
    documented procedure for a table change); the migrations before it are committed first.
    """
    name = f"uq_{table}_" + "_".join(create)
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(drop, table, type_="unique")
        op.create_unique_constraint(name, table, list(create))
        return
    with op.get_context().autocommit_block():
        op.execute("PRAGMA foreign_keys=OFF")
        try:
            op.execute("BEGIN IMMEDIATE")
            try:
                with op.batch_alter_table(table, recreate="always") as batch_op:
                    batch_op.drop_constraint(drop, type_="unique")
                    batch_op.create_unique_constraint(name, list(create))
                broken = op.get_bind().execute(sa.text("PRAGMA foreign_key_check")).fetchall()
                if broken:
                    raise RuntimeError(f"foreign keys broken by the {table} rebuild: {broken[:5]}")
            except BaseException:
                op.execute("ROLLBACK")
                raise
            op.execute("COMMIT")
        finally:
            op.execute("PRAGMA foreign_keys=ON")
