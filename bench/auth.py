"""What authenticating every request in the database costs (issue 13: revocation at once).

Until issue 13 each process remembered an authenticated token for 5 seconds, so most requests
cost a dictionary lookup and a revocation elsewhere took up to 5 seconds. Now every request
reads its token: one statement by the unique index on the token's hash, outside a transaction.
Measured in-process, back to back in one run, at 1 and 4 clients (threads):

- `raw psycopg`: the same SELECT (the application's statement, compiled), prepared, on an
  autocommit psycopg connection per client: the floor for one round trip.
- `authenticate`: what a request now runs (`app.auth.service.authenticate_request`: a session,
  the read on a pooled connection without BEGIN/ROLLBACK, the checks, the actor).
- `authenticate in a transaction`: the same Core read inside BEGIN ... ROLLBACK (what a plain
  session would do), without the checks: why the read runs outside a transaction.
- `cache hit (before)`: the previous hit path (hash the token, look it up in a dictionary,
  check its deadline and expiry), for scale: no database at all.

Ratios are against the raw loop of the same client count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

from app.auth.repository import _TOKEN_STATE
from app.auth.service import authenticate_request
from app.auth.tokens import hash_token
from app.timeutil import utcnow
from bench.stats import Point, point, ratio
from bench.txn import _run_threads

CLIENTS = (1, 4)


def measure(
    dsn: str,
    sessions: sessionmaker[Session],
    token: str,
    seconds: float,
    warmup: float,
    clients: tuple[int, ...] = CLIENTS,
) -> dict[str, Any]:
    rows: list[Point] = []
    for n in clients:
        for name, runner in (
            ("raw psycopg", _raw(dsn, token)),
            ("authenticate", _per_request(sessions, token)),
            ("authenticate in a transaction", _in_transaction(sessions, token)),
            ("cache hit (before)", _cache_hit(token)),
        ):
            lats, errors, secs = _run_threads(n, seconds, warmup, runner)
            rows.append(point(name, n, lats, secs, errors))
    out: dict[str, Any] = {"points": [p.as_dict() for p in rows], "ratios": []}
    for n in clients:
        by = {p.name: p for p in rows if p.clients == n}
        raw, auth = by["raw psycopg"], by["authenticate"]
        cached = by["cache hit (before)"]
        out["ratios"].append(
            {
                "clients": n,
                "authenticate_vs_raw": ratio(auth.ops_per_s, raw.ops_per_s),
                "in_transaction_vs_raw": ratio(
                    by["authenticate in a transaction"].ops_per_s, raw.ops_per_s
                ),
                "cache_hit_vs_raw": ratio(cached.ops_per_s, raw.ops_per_s),
                # Wall time one request now spends authenticating, beyond the old hit path.
                "added_us_per_request": round(
                    1e6 * n * (1 / auth.ops_per_s - 1 / cached.ops_per_s), 1
                )
                if auth.ops_per_s and cached.ops_per_s
                else None,
            }
        )
    return out


Body = Callable[[int, Callable[[], bool]], tuple[list[Any], int]]


def _timed(step: Callable[[], object]) -> Body:
    def body(_i: int, running: Callable[[], bool]) -> tuple[list[Any], int]:
        out: list[Any] = []
        errors = 0
        while running():
            t0 = time.perf_counter()
            try:
                step()
            except Exception:  # noqa: BLE001 - counted; the run goes on
                errors += 1
                continue
            t1 = time.perf_counter()
            out.append((t1, t1 - t0))
        return out, errors

    return body


def _raw(dsn: str, token: str) -> Body:
    sql = str(_TOKEN_STATE.compile(dialect=postgresql.dialect()))  # %(token_hash)s
    params = {"token_hash": hash_token(token)}

    def body(i: int, running: Callable[[], bool]) -> tuple[list[Any], int]:
        with psycopg.connect(dsn, autocommit=True) as conn:

            def step() -> None:
                row = conn.execute(sql, params, prepare=True).fetchone()  # type: ignore[arg-type]
                assert row is not None

            return _timed(step)(i, running)

    return body


def _per_request(sessions: sessionmaker[Session], token: str) -> Body:
    return _timed(lambda: authenticate_request(sessions, token, now=utcnow()))


def _in_transaction(sessions: sessionmaker[Session], token: str) -> Body:
    params = {"token_hash": hash_token(token)}

    def step() -> None:
        with sessions() as session:
            row = session.connection().execute(_TOKEN_STATE, params).first()
            session.rollback()
            assert row is not None

    return _timed(step)


def _cache_hit(token: str) -> Body:
    """The removed `TokenCache.get` hit path, as it was."""
    deadline = time.monotonic() + 3600
    entries: dict[tuple[int, str], tuple[object, Any, float]] = {
        (0, hash_token(token)): (object(), None, deadline)
    }

    def step() -> object:
        entry = entries.get((0, hash_token(token)))
        if entry is None or entry[2] <= time.monotonic():
            raise LookupError
        if entry[1] is not None and entry[1] <= utcnow():
            raise LookupError
        return entry[0]

    return _timed(step)


def report_lines(out: dict[str, Any]) -> list[str]:
    from bench.stats import table

    rows = [
        (p["name"], p["clients"], p["ops_per_s"], p["p50_ms"], p["p99_ms"], p["errors"])
        for p in out["points"]
    ]
    ratios = [
        (
            r["clients"],
            r["authenticate_vs_raw"],
            r["in_transaction_vs_raw"],
            r["cache_hit_vs_raw"],
            r["added_us_per_request"],
        )
        for r in out["ratios"]
    ]
    return [
        "",
        "Authentication per request (in-process; the token read on every request)",
        table(("path", "clients", "ops/s", "p50 ms", "p99 ms", "errors"), rows),
        "",
        table(
            ("clients", "auth/raw", "in-tx/raw", "cache hit/raw", "added us/request"),
            ratios,
        ),
    ]


def standalone(pg_url: str, db_name: str, seconds: float, warmup: float) -> dict[str, Any]:
    """The measurement on its own: an empty schema, one user and token (`python -m bench auth`)."""
    from app.auth.service import add_user, create_token
    from app.db import make_engine, make_sessionmaker
    from bench import load

    load.recreate_database(pg_url, db_name)
    engine = make_engine(load.sa_url(pg_url, db_name))
    try:
        load.build_schema(load.sa_url(pg_url, db_name))
        sessions = make_sessionmaker(engine)
        with sessions() as s:
            add_user(
                s, username="bench-auth", display_name="b", organisation="B", roles=["analyst"]
            )
            token = create_token(s, username="bench-auth", organisation="B").token
        return {
            "started_at": utcnow().isoformat(),
            **measure(load.db_dsn(pg_url, db_name), sessions, token, seconds, warmup),
        }
    finally:
        engine.dispose()
        load.drop_database(pg_url, db_name)
