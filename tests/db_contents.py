"""What a PostgreSQL database holds, in forms two databases can be compared by: its tables,
every row of a table, and its schema objects (tests/integration/test_backup_restore.py)."""

from __future__ import annotations

import re
from typing import Any

import psycopg


def tables(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_type = 'BASE TABLE' ORDER BY table_name"
    ).fetchall()
    return [str(r[0]) for r in rows]


def contents(conn: psycopg.Connection[Any], table: str) -> list[str]:
    """Every row as PostgreSQL's own text form of the whole row (every column, json
    included), sorted: equal lists mean equal tables."""
    rows = conn.execute(
        f'SELECT r::text FROM public."{table}" AS r ORDER BY r::text COLLATE "C"'  # noqa: S608
    ).fetchall()
    return [str(r[0]) for r in rows]


CASTS = re.compile(r"::[a-z_]+(?: varying| precision| with(?:out)? time zone)?(?:\[\])?")
NOT_SPELLING = re.compile(r"[()\s]")


def expression(definition: str) -> str:
    """A deparsed definition without its casts and parentheses. PostgreSQL prints an expression
    as it stores it after parsing, and parsing the printed form again may store it otherwise:
    `state IN ('queued', 'running')` comes back from a restore as
    `(state)::text = ANY ((ARRAY['queued'::varchar, ...])::text[])` where the migrated database
    says `ANY (ARRAY[('queued'::varchar)::text, ...])`. The same test, spelt differently."""
    return NOT_SPELLING.sub("", CASTS.sub("", definition))


def schema(conn: psycopg.Connection[Any]) -> dict[str, list[Any]]:
    """Columns, indexes, constraints, triggers, functions and sequence positions."""
    queries = {
        "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = 'public'",
        "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
        "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
        "triggers": "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) "
        "FROM pg_trigger WHERE NOT tgisinternal",
        "functions": "SELECT proname, pg_get_functiondef(oid) FROM pg_proc "
        "WHERE pronamespace = 'public'::regnamespace",
        "sequences": "SELECT sequencename, last_value FROM pg_sequences "
        "WHERE schemaname = 'public'",
    }
    return {
        k: sorted(tuple(expression(v) if isinstance(v, str) else v for v in row) for row in rows)
        for k, q in queries.items()
        for rows in [conn.execute(q).fetchall()]
    }
