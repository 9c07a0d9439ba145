"""Database engine, sessions and the Unit of Work.

Routes get a plain `Session` that never commits; a service wraps each use case in
`UnitOfWork`, which commits once on success and rolls back on any exception.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from app.config import get_settings

POOL_SIZE = 30
# An execution option marking a connection that only reads (see `read_only_options`).
READ_ONLY = "homefirst_read_only"
# A pooled connection idle for longer than this is checked with a ping before it is handed out.
PING_AFTER_IDLE_SECONDS = 10.0


def make_engine(url: str, *, echo: bool = False, pooler: str | None = None) -> Engine:
    """`hide_parameters`: a statement's values (an NHS number, a token hash) stay out of the
    text of its errors, which the log keeps, and out of the echoed SQL.

    `pooler`: what is between this process and PostgreSQL (the `database_pooler` setting,
    which is what `None` means, so that Alembic's and the command line's engines follow it
    too)."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo)
    if pooler is None:
        pooler = get_settings().database_pooler
    # The pool keeps as many connections as requests run at once (FastAPI's thread pool runs up
    # to 40 sync routes); overflow connections are closed on return, so a pool smaller than
    # the load opens a new PostgreSQL backend for every request beyond it.
    engine = create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=POOL_SIZE,
        max_overflow=10,
        connect_args=pooler_connect_args(pooler),
    )
    _ping_idle_connections(engine)
    return engine


def pooler_connect_args(pooler: str) -> dict[str, Any]:
    """psycopg's arguments for the pooler in front of PostgreSQL. Behind a pooler in
    transaction mode (PgBouncer before 1.21 knows nothing of prepared statements) a statement
    psycopg prepared on one server connection is missing on the next transaction's, or
    another client's of the same name is there: no statement is prepared (`prepare_threshold`
    None). Everything else the service does already ends with its transaction (`SET LOCAL`,
    `pg_advisory_xact_lock`; no LISTEN, no session-level lock or setting)."""
    if pooler == "transaction":
        return {"prepare_threshold": None}
    return {}


def _ping_idle_connections(engine: Engine) -> None:
    """`pool_pre_ping`, but only for connections that sat idle: a busy connection is known to
    be alive, and pinging it on every checkout costs a round trip per request.

    A failed ping raises `DisconnectionError`, so the pool drops the connection and checks out
    (or opens) another, as `pool_pre_ping` does.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()
        except Exception as exc:
            raise DisconnectionError("pooled connection failed its ping") from exc


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    database = url.split(":///", 1)[-1]
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE below is what runs.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # no transaction at all (a migration's autocommit block)
        if options.get(READ_ONLY):
            # A read that must not queue behind a writer (authenticating a request): a
            # deferred transaction reads the last committed state without the write lock.
            conn.exec_driver_sql("BEGIN")
            return
        # SQLite has no row locks. IMMEDIATE takes the write lock up front, so two writers
        # queue instead of one failing with "database is locked" when it upgrades its lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def read_only_options(dialect_name: str) -> dict[str, Any]:
    """Execution options for a connection that makes one read and nothing else: on PostgreSQL
    no transaction (no BEGIN or ROLLBACK round trips), on SQLite a deferred one (no write lock).
    Pass to `Session.connection(execution_options=...)` before the session's transaction."""
    if dialect_name == "postgresql":
        return {"isolation_level": "AUTOCOMMIT"}
    return {READ_ONLY: True}


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    return make_engine(
        settings.database_url, echo=settings.sql_echo, pooler=settings.database_pooler
    )


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return make_sessionmaker(get_engine())


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


async def get_db(request: Request) -> AsyncIterator[Session]:
    """FastAPI dependency: a session per request. It never commits; services do.

    `async` so that opening and closing the session cost no thread-pool hand-off (FastAPI runs a
    plain generator dependency in the pool twice per request). Creating a session does no I/O;
    closing one whose transaction has ended (a use case committed or rolled back) does none
    either, so it closes here. A session still in a transaction (a read that never committed)
    closes in the thread pool, since its ROLLBACK is a round trip that must not block the loop.
    """
    sessions: sessionmaker[Session] = request.app.state.sessions
    session = sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


class UnitOfWork:
    """One use case, one transaction: commit on success, roll back on any exception."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.session.commit()
        else:
            self.session.rollback()
