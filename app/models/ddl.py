"""DDL the migrations share: audit tables that the database itself keeps append-only.

Kept here, not in each revision, so every append-only table gets exactly the same triggers.
Changing these functions changes only future migrations' behaviour when they run: treat them
as frozen once a revision using them has shipped.
"""

from __future__ import annotations

from alembic import op

REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION homefirst_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def refuse_changes(table: str) -> None:
    """UPDATE and DELETE on `table` raise: a PL/pgSQL trigger, or RAISE(ABORT) on SQLite."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REFUSE_FUNCTION)  # CREATE OR REPLACE: safe to run from any revision
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION homefirst_refuse_change()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
            )


def allow_changes(table: str, *, drop_function: bool = False) -> None:
    """Drop `table`'s append-only triggers (downgrades); the first revision also drops the
    shared function."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        if drop_function:
            op.execute("DROP FUNCTION IF EXISTS homefirst_refuse_change()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
