"""`python -m bench notify`: notification fan-out, and what the outbox costs the transition.

- **Data** (PostgreSQL on this machine, a database of its own): `--subscribers` (1,000) people of
  one organisation with a discharge role, each subscribed in the app to `case_escalated`, and
  discharge cases of that organisation opened through the real engine.
- **The transition** (in-process, one caller, one transaction each, as a route runs it):
  `raise_escalation` through `CaseWriter.fire`, whose effect writes one outbox row, timed on
  `--transitions` cases with nobody subscribed, then on as many with every subscriber in place,
  then again with nobody (for drift). The ratio is the p50 with subscribers over the p50
  without: the outbox row is the same either way, so it should be about 1.
- **Fan-out**: `--events` single notifications, each fanned out on its own by the delivery
  job's `fan_out` (claim, visibility of the case, one delivery per subscriber, mark): p50 and
  max against the target of 1 s for 1,000 subscribers.
- **Raw baseline** (same run): one INSERT ... SELECT of the same 1,000 delivery rows from the
  subscriptions table, in its own transaction: what the database alone costs to write them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import psycopg

from app.auth.access import load_access
from app.auth.actor import Actor
from app.composition import build_engine, build_writer, load_codes, workflows
from app.config import PROJECT_ROOT, Settings
from app.db import UnitOfWork, make_engine, make_sessionmaker
from app.engine.engine import Command, OpenCommand
from app.notifications.fanout import fan_out
from app.notifications.kinds import case_link
from app.notifications.outbox import notify
from app.timeutil import utcnow
from bench import load
from bench.nhs import nhs_numbers

RESULTS = Path(__file__).parent / "results"
ORG = "BENCH-NOTIFY"
TARGET_FAN_OUT_S = 1.0
TARGET_RATIO = 1.25  # the transition with 1,000 subscribers, over none
RAW_INSERT = """
INSERT INTO notification_deliveries (notification_id, subscription_id, recipient, channel,
    organisation, user_id, status, attempts, next_attempt_at, created_at, sent_at)
SELECT %(n)s, s.id, s.subject, s.channel, s.organisation, s.user_id, 'sent', 0, NULL, now(),
    now()
FROM notification_subscriptions s WHERE s.kind = 'case_escalated'
"""


@dataclass(frozen=True)
class NotifyArgs:
    pg_url: str
    db_name: str
    subscribers: int
    transitions: int
    events: int
    keep_db: bool


def run_notify(args: NotifyArgs, say: Any = print) -> dict[str, Any]:
    from bench.run import machine

    out: dict[str, Any] = {
        "mode": "notify",
        "started_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "subscribers": args.subscribers,
    }
    load.recreate_database(args.pg_url, args.db_name)
    url, dsn = load.sa_url(args.pg_url, args.db_name), load.db_dsn(args.pg_url, args.db_name)
    try:
        load.build_schema(url)
        settings = Settings(database_url=url, clock_sweep_interval_seconds=0)
        registered, codes = workflows(), load_codes(settings)
        registered.load_configs(settings.pathways_dir / "config")
        writer = build_writer(
            settings, build_engine(settings, codes, registered), codes, registered
        )
        sessions = make_sessionmaker(make_engine(url))
        policy = load_access(PROJECT_ROOT / "pathways" / "config")
        actor = _people(dsn, args.subscribers)
        cases = _cases(sessions, writer, actor, 3 * args.transitions + args.events)
        say(f"{args.subscribers:,} people, {len(cases):,} open discharge cases")

        def escalations(chunk: list[int]) -> list[float]:
            times = []
            for case_id in chunk:
                t0 = time.perf_counter()
                with sessions() as session, UnitOfWork(session):
                    writer.fire(session, case_id, _escalate(actor), now=utcnow())
                times.append(time.perf_counter() - t0)
            return times

        n = args.transitions
        before = escalations(cases[:n])
        _subscribe(dsn, actor.username)
        fan_out(sessions, policy=policy, now=utcnow())  # the first batch's rows: nobody to tell
        loaded = escalations(cases[n : 2 * n])
        t0 = time.perf_counter()
        backlog = fan_out(sessions, policy=policy, now=utcnow())
        backlog_s = time.perf_counter() - t0
        say(f"backlog: {backlog:,} deliveries in {backlog_s:.2f}s")
        fan = []
        for case_id in cases[3 * n :]:
            with sessions() as session, UnitOfWork(session):
                notify(
                    session,
                    kind="case_escalated",
                    case_id=case_id,
                    link=case_link(case_id),
                    summary="bench",
                    now=utcnow(),
                )
            t0 = time.perf_counter()
            written = fan_out(sessions, policy=policy, now=utcnow())
            fan.append(time.perf_counter() - t0)
            assert written == args.subscribers, written  # noqa: S101 - the bench checks itself
        raw = [_raw_insert(dsn) for _ in range(args.events)]
        _subscribe(dsn, None)
        after = escalations(cases[2 * n : 3 * n])
        out["transition_ms"] = {
            "none_before_p50": _ms(median(before)),
            "subscribers_p50": _ms(median(loaded)),
            "none_after_p50": _ms(median(after)),
        }
        none = median(before + after)
        out["transition_ratio"] = round(median(loaded) / none, 3)
        out["fan_out_s"] = {"p50": round(median(fan), 4), "max": round(max(fan), 4)}
        out["raw_insert_s"] = {"p50": round(median(raw), 4)}
        out["fan_out_ratio_to_raw"] = round(median(fan) / median(raw), 2)
        out["backlog"] = {"deliveries": backlog, "seconds": round(backlog_s, 2)}
        out["targets"] = [
            {
                "target": f"fan-out of one event to {args.subscribers:,} under {TARGET_FAN_OUT_S}s",
                "figure": out["fan_out_s"]["max"],
                "met": out["fan_out_s"]["max"] < TARGET_FAN_OUT_S,
            },
            {
                "target": f"transition with subscribers / without under {TARGET_RATIO}",
                "figure": out["transition_ratio"],
                "met": out["transition_ratio"] < TARGET_RATIO,
            },
        ]
    finally:
        if not args.keep_db:
            load.drop_database(args.pg_url, args.db_name)
    out["finished_at"] = datetime.now(UTC).isoformat()
    return out


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _escalate(actor: Actor) -> Command:
    return Command("raise_escalation", actor, data={"escalation_reason": "bench"})


def _people(dsn: str, n: int) -> Actor:
    """`n` people of the organisation (straight in the table), and one who escalates."""
    now = datetime.now(UTC)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO users (username, display_name, organisation, roles, active, created_at)"
            " VALUES (%s, %s, %s, 'discharge_team', true, %s)",
            [(f"p{i}", f"p{i}", ORG, now) for i in range(n + 1)],
        )
        cur.execute(
            "SELECT id FROM users WHERE username = %s AND organisation = %s", (f"p{n}", ORG)
        )
        row = cur.fetchone()
    assert row is not None  # noqa: S101
    return Actor(int(row[0]), f"p{n}", ORG, frozenset({"discharge_team", "huddle_chair"}))


def _subscribe(dsn: str, but: str | None) -> None:
    """Every person of the organisation but `but` subscribed in the app, or (None) nobody."""
    with psycopg.connect(dsn) as conn:
        if but is None:
            conn.execute("DELETE FROM notification_deliveries")
            conn.execute("DELETE FROM notification_subscriptions")
            return
        conn.execute(
            "INSERT INTO notification_subscriptions (subject, kind, channel, organisation,"
            " user_id, created_at, created_by)"
            " SELECT 'user:' || id, 'case_escalated', 'in_app', organisation, id, now(), 'bench'"
            " FROM users WHERE organisation = %s AND username <> %s",
            (ORG, but),
        )


def _raw_insert(dsn: str) -> float:
    """Seconds to write one event's deliveries with plain SQL, committed."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO notifications (kind, link, summary, targets, created_at, fanned_out_at)"
            " VALUES ('case_escalated', '/', 'raw', '{}', now(), now()) RETURNING id"
        ).fetchone()
        assert row is not None  # noqa: S101
        t0 = time.perf_counter()
        with conn.transaction():
            conn.execute(RAW_INSERT, {"n": row[0]})
        elapsed = time.perf_counter() - t0
        conn.execute("DELETE FROM notification_deliveries WHERE notification_id = %s", (row[0],))
        conn.execute("DELETE FROM notifications WHERE id = %s", (row[0],))
    return elapsed


def _cases(sessions: Any, writer: Any, actor: Actor, n: int) -> list[int]:
    opened = utcnow() - timedelta(days=2)
    patients = nhs_numbers(start=1, count=n)
    ids = []
    with sessions() as session, UnitOfWork(session):
        for i in range(n):
            case = writer.open(
                session,
                OpenCommand(
                    "discharge",
                    actor,
                    ORG,
                    "RQ601",
                    patients[i],
                    {
                        "hospital_system": "LUHFT",
                        "ward": "Ward 7",
                        "admitted_at": opened.isoformat(),
                    },
                    opened,
                    "bench",
                ),
                now=utcnow(),
            )
            ids.append(case.id)
    return ids


def report(out: dict[str, Any]) -> str:
    t = out["transition_ms"]
    lines = [
        f"Notifications ({out['subscribers']:,} subscribers of one event)",
        f"  raise_escalation p50        {t['none_before_p50']} ms with nobody subscribed, "
        f"{t['subscribers_p50']} ms with every subscriber, {t['none_after_p50']} ms with "
        f"nobody again: ratio {out['transition_ratio']}",
        f"  fan-out of one event        p50 {out['fan_out_s']['p50']}s, max "
        f"{out['fan_out_s']['max']}s ({out['fan_out_ratio_to_raw']}x a raw INSERT ... SELECT "
        f"of the same rows, {out['raw_insert_s']['p50']}s)",
        f"  the backlog of the run      {out['backlog']['deliveries']:,} deliveries in "
        f"{out['backlog']['seconds']}s",
    ]
    for target in out["targets"]:
        lines.append(
            f"  {'met ' if target['met'] else 'MISSED'}  {target['target']}: {target['figure']}"
        )
    return "\n".join(lines)


def save(out: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-notify.json"
    text = json.dumps(out, indent=2, default=str)
    path.write_text(text)
    (RESULTS / "latest-notify.json").write_text(text)
    return path
