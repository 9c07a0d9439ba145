"""Writing many new rows at once: ids handed out ahead, one statement per table.

The ORM inserts a new row with a round trip of its own to learn its id (RETURNING), and the
rows that refer to it wait for that answer. A bulk writer (the backlog import opening
thousands of cases) takes ids ahead instead and writes each table's rows with one
`executemany`. No commits here: the caller's Unit of Work commits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import sqltypes


class IdAllocator:
    """Ids for new rows of one table with an auto-incremented `id`.

    PostgreSQL: a block at a time from the column's own sequence (shared with every other
    writer, so never a clash; unused ids are gaps, as after a rollback). SQLite: one past the
    largest id, counted on; this is safe because a SQLite writer holds the database's only
    write lock (BEGIN IMMEDIATE) for its whole transaction, and `reset` must be called before
    anything else inserts into the table in that transaction (then the count starts again).
    """

    def __init__(self, session: Session, table: Table, *, block: int = 1024) -> None:
        self.session, self.table, self.block = session, table, block
        self._ids: list[int] = []
        self._next: int | None = None  # SQLite

    def next(self) -> int:
        if self.session.get_bind().dialect.name == "postgresql":
            if not self._ids:
                block = self.session.execute(
                    text(
                        "SELECT array_agg(nextval(pg_get_serial_sequence(:table, 'id'))) "
                        "FROM generate_series(1, :n)"
                    ),
                    {"table": self.table.name, "n": self.block},
                ).scalar_one()
                self._ids = sorted(block, reverse=True)
            return self._ids.pop()
        if self._next is None:
            largest = self.session.execute(select(func.max(self.table.c.id))).scalar_one()
            self._next = int(largest or 0) + 1
        taken, self._next = self._next, self._next + 1
        return taken

    def reset(self) -> None:
        """Forget the SQLite count (someone else may insert into the table next)."""
        self._next = None


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """All `rows` (each with the same keys) in one statement: COPY on PostgreSQL, an
    executemany on SQLite (in-process, where a statement costs no round trip)."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        session.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    # Each value as the column's type binds it (UTC times), so COPY stores what an INSERT
    # would; JSON as the text json.dumps gives (what SQLAlchemy's JSON type sends, without
    # its wrapper objects: a third of the cost of a row).
    processors = [_copy_processor(table.c[name].type, dialect) for name in names]
    quote = dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None  # noqa: S101 - a live connection of the session's transaction
    with driver.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(
                [
                    value if proc is None else proc(value)
                    for value, proc in zip((row[n] for n in names), processors, strict=True)
                ]
            )


def row_of(obj: Any, table: Table, *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The column values set on an ORM object that was built but never added to a session
    (columns left unset keep their defaults)."""
    values = vars(obj)
    return {c.key: values[c.key] for c in table.columns if c.key in values and c.key not in skip}


def _copy_processor(column_type: Any, dialect: Any) -> Callable[[Any], Any] | None:
    impl = column_type.dialect_impl(dialect)
    if isinstance(impl, sqltypes.JSON):
        return json.dumps  # None too becomes JSON null, as SQLAlchemy's JSON type stores it
    processor: Callable[[Any], Any] | None = impl.bind_processor(dialect)
    return processor
