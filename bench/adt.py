"""`python -m bench adt`: the HL7 v2 ADT feed over MLLP against PostgreSQL (issue 15).

- **Workload**: a ward's mix for distinct patients (test NHS numbers), in blocks of 50: their
  admissions (A01, which open discharge cases), then their transfers (A02, a `ward_transfer`),
  then updates with an expected discharge date (A08, an `update_details`). Every message
  applies one event; every ACK must be AA.
- **Throughput**: `homefirst adt listen` as its own process (as deployed), one connection of a
  third-party client (`hl7.client.MLLPClient`) sending each message after the previous ACK, as
  a PAS interface engine does: messages/s, ACK latency per message type, and the CPU time of the
  listener and its PostgreSQL backends per message (a figure the shared machine's load does not
  move much).
- **Latency**: the same connection paced at `--rate` (100) messages/s for `--seconds`: p50, p95,
  p99 from send to ACK, the rate achieved, and how far behind schedule the ACKs came (when the
  listener cannot keep the pace, later messages queue behind earlier ones). When the measured
  throughput is under the rate, the pace is repeated at half that throughput too, to show the
  latency without queueing.
- **Raw baselines, same run, before and after (drift)**: the same client and messages against a
  trivial MLLP server that ACKs at once without a database (`bench.mllp`), the same server doing
  an INSERT and COMMIT on the same PostgreSQL before each ACK (the least a listener that
  acknowledges after a durable write costs), and a plain psycopg INSERT+COMMIT loop.
- **Where the time goes** (`--profile-messages`, in-process, the listener's own code path:
  `AdtService.receive` in a fresh session per message): CPU and wall time per message of each
  step (parse, repeat lookup, identify, find the case, order check, the transition entry point
  and within it the lock, the engine and the read models, the log row, the commit, the ACK),
  statements per message; `--cprofile FILE` also writes a cProfile of that run. For reference,
  the CPU time python-hl7 (`hl7.parse`, which splits without knowing the 2.x structures) takes
  for the same messages.
"""

from __future__ import annotations

import cProfile
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from app.adt.sample import synthetic_nhs_numbers as nhs_numbers
from app.timeutil import LONDON
from bench import load
from bench.mllp import (
    CREATE_RAW_TABLE,
    ECHO_READY,
    LISTENER_READY,
    RAW_TABLE,
    Proc,
    Sent,
    process_env,
    stream,
)
from bench.stats import percentile
from bench.tracker import _backends, _cpu_seconds

RESULTS = Path(__file__).parent / "results"
TARGET_PER_S = 500
TARGET_P99_MS = 50.0
BLOCK = 50  # patients whose A01s, then A02s, then A08s go together
LISTEN = ["-m", "app.cli", "adt", "listen", "--host", "127.0.0.1", "--port", "0", "--no-migrate"]


@dataclass(frozen=True)
class AdtArgs:
    pg_url: str
    db_name: str
    patients: int  # throughput: three messages each
    rate: float
    seconds: float
    profile_messages: int
    cprofile: str | None
    keep_db: bool
    profile_only: bool = False  # only the in-process step timing (comparing code changes)


# -- the workload --------------------------------------------------------------------------------
def mix(first: int, patients: int, now: datetime, tag: str) -> list[tuple[str, bytes]]:
    """(trigger, ER7) for `patients` new patients from test NHS number stem 999<first>."""
    numbers = nhs_numbers(first, patients)
    edd = (now.astimezone(LONDON) + timedelta(days=3)).strftime("%Y%m%d")
    out: list[tuple[str, bytes]] = []
    for b in range(0, patients, BLOCK):
        block = list(enumerate(numbers[b : b + BLOCK], start=b))
        for trigger, hours in (("A01", 3), ("A02", 2), ("A08", 1)):
            for i, nhs in block:
                at = (now - timedelta(hours=hours, seconds=patients - i)).astimezone(LONDON)
                ts = at.strftime("%Y%m%d%H%M%S")
                where = f"W11^^BED {i % 30}^SDGH" if trigger == "A01" else "W15^^BED 2^SDGH"
                segments = [
                    f"MSH|^~\\&|PAS|RVY|HOMEFIRST|SEFTON|{ts}||ADT^{trigger}^ADT_A01|"
                    f"{tag}{trigger}{i:06d}|P|2.4",
                    f"EVN|{trigger}|{ts}",
                    f"PID|1||{nhs}^^^NHS^NH~RVY{first + i:07d}^^^RVY^MR||BENCH^PATIENT||19400101|U",
                    "|".join(["PV1", "1", "I", where, *[""] * 40, ts]),
                ]
                if trigger == "A08":
                    segments.append(f"PV2|||||||||{edd}")
                out.append((trigger, "\r".join(segments).encode()))
    return out


def _summary(sent: Sent) -> dict[str, Any]:
    def ms(values: list[float], p: float) -> float | None:
        v = percentile(values, p)
        return round(v * 1000, 2) if v is not None else None

    return {
        "messages": sent.count,
        "seconds": round(sent.seconds, 2),
        "per_s": round(sent.per_s, 1),
        "refused": sent.refused,
        "p50_ms": ms(sent.latencies, 50),
        "p95_ms": ms(sent.latencies, 95),
        "p99_ms": ms(sent.latencies, 99),
        "max_ms": ms(sent.latencies, 100),
        "behind_schedule_p99_ms": ms(sent.behind, 99),
        "p50_ms_by_trigger": {k: ms(v, 50) for k, v in sorted(sent.by_trigger.items())},
    }


# -- raw baselines -------------------------------------------------------------------------------
def insert_loop(dsn: str, messages: list[tuple[str, bytes]]) -> dict[str, Any]:
    """One INSERT and one COMMIT per message on a plain psycopg connection."""
    with psycopg.connect(dsn) as conn:
        t0 = time.perf_counter()
        for _, raw in messages:
            conn.execute(
                f"INSERT INTO {RAW_TABLE} (control_id, raw) VALUES (%s, %s)",
                (raw.split(b"|", 10)[9].decode(), raw.decode()),
            )
            conn.commit()
        seconds = time.perf_counter() - t0
    return {"messages": len(messages), "per_s": round(len(messages) / seconds, 1)}


def raw_baselines(
    dsn: str, messages: list[tuple[str, bytes]], args: AdtArgs, log: Path, *, paced: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, extra in (("echo", []), ("echo_commit", ["--commit", dsn])):
        server = Proc(["-m", "bench.mllp", *extra], process_env(), log, ECHO_READY)
        port = server.start()
        try:
            stream(port, messages[:100])
            out[name] = _summary(stream(port, messages))
            if paced:
                run = stream(port, messages, rate=args.rate, seconds=args.seconds)
                out[f"{name}_paced"] = _summary(run)
        finally:
            server.stop()
    out["insert_commit_loop"] = insert_loop(dsn, messages)
    return out


# -- HomeFirst -----------------------------------------------------------------------------------
def homefirst(url: str, dsn: str, args: AdtArgs, now: datetime, log: Path) -> dict[str, Any]:
    listener = Proc(LISTEN, process_env(url), log, LISTENER_READY)
    port = listener.start()
    out: dict[str, Any] = {}
    try:
        stream(port, mix(0, 20, now, "W"))  # warm: the pool's connections, statement caches
        assert listener.process is not None
        pids = [listener.process.pid, *_backends(dsn)]
        cpu0 = _cpu_seconds(pids)
        run = stream(port, mix(100_000, args.patients, now, "T"))
        out["throughput"] = _summary(run) | {
            "server_cpu_ms_per_message": round((_cpu_seconds(pids) - cpu0) * 1000 / run.count, 2)
        }
        patients = math.ceil(args.rate * args.seconds / 3) + BLOCK
        paced = stream(port, mix(200_000, patients, now, "P"), rate=args.rate, seconds=args.seconds)
        out["paced"] = _summary(paced) | {"rate": args.rate}
        easy = round(run.per_s / 2, 1)
        if easy < args.rate:
            slow = stream(port, mix(300_000, patients, now, "S"), rate=easy, seconds=args.seconds)
            out["paced_half_throughput"] = _summary(slow) | {"rate": easy}
    finally:
        listener.stop()
    out["listener_log_tracebacks"] = log.read_text(errors="replace").count("Traceback")
    return out


# -- where the time goes -------------------------------------------------------------------------
@contextmanager
def _timed(targets: list[tuple[Any, str, str]]) -> Iterator[tuple[Counter[str], Counter[str]]]:
    cpu: Counter[str] = Counter()
    wall: Counter[str] = Counter()
    originals = [(obj, name, getattr(obj, name)) for obj, name, _ in targets]
    for (obj, name, original), (_, _, label) in zip(originals, targets, strict=True):

        def wrapper(*a: Any, _f: Any = original, _l: str = label, **k: Any) -> Any:
            c, t = time.process_time(), time.perf_counter()
            try:
                return _f(*a, **k)
            finally:
                cpu[_l] += time.process_time() - c
                wall[_l] += time.perf_counter() - t

        setattr(obj, name, wrapper)
    try:
        yield cpu, wall
    finally:
        for obj, name, original in originals:
            setattr(obj, name, original)


def where_time_goes(url: str, now: datetime, args: AdtArgs) -> dict[str, Any]:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from app.adt import apply, repository, service
    from app.adt.service import build_adt_service
    from app.cases.repository import CaseRepository
    from app.cases.transition import CaseWriter
    from app.composition import build_parts
    from app.config import Settings
    from app.db import make_engine, make_sessionmaker
    from app.engine.engine import Engine
    from app.engine.readmodels import ReadModelRegistry
    from app.timeutil import utcnow

    settings = Settings(database_url=url)
    adt = build_adt_service(settings, build_parts(settings).writer)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    statements: Counter[str] = Counter()
    event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_a: statements.update([sql.split(None, 1)[0].upper()]),
    )
    messages = mix(400_000, max(1, args.profile_messages // 3), now, "R")

    def receive(batch: list[tuple[str, bytes]]) -> None:
        for _, raw in batch:
            with sessions() as session:
                receipt = adt.receive(session, raw.decode(), now=utcnow())
            if receipt.code != "AA":
                raise RuntimeError(f"{receipt.code}: {receipt.ack}")

    receive(mix(500_000, 10, now, "Q"))  # warm
    repo = repository.AdtRepository
    steps = [
        (service, "parse", "parse (python-hl7)"),
        (repo, "message", "repeat lookup (MSH-10)"),
        (apply, "identify", "identify the patient"),
        (repo, "latest_case", "find the patient's case"),
        (repo, "last_location_at", "order check"),
        (CaseWriter, "open", "CaseWriter.open (A01)"),
        (CaseWriter, "fire", "CaseWriter.fire (A02, A08)"),
        (CaseRepository, "lock_for_event", "  lock and load the case"),
        (Engine, "open_case", "  engine (open)"),
        (Engine, "fire", "  engine (fire)"),
        (ReadModelRegistry, "project", "  read models"),
        (repo, "add_message", "write the log row"),
        (Session, "commit", "commit"),
        (service, "build_ack", "build the ACK (hl7apy, kept per kind)"),
    ]
    profiler = cProfile.Profile() if args.cprofile else None
    statements.clear()
    with _timed(steps) as (cpu, wall):
        c0, t0 = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        receive(messages)
        if profiler is not None:
            profiler.disable()
        total_cpu, total_wall = time.process_time() - c0, time.perf_counter() - t0
    if profiler is not None and args.cprofile:
        profiler.dump_stats(args.cprofile)
    engine.dispose()
    n = len(messages)
    per = {
        label: {
            "cpu_ms": round(cpu[label] * 1000 / n, 2),
            "wall_ms": round(wall[label] * 1000 / n, 2),
        }
        for _, _, label in steps
    }
    top = [label for _, _, label in steps if not label.startswith(" ")]
    per["the rest (savepoint, session, service)"] = {
        "cpu_ms": round((total_cpu - sum(cpu[k] for k in top)) * 1000 / n, 2),
        "wall_ms": round((total_wall - sum(wall[k] for k in top)) * 1000 / n, 2),
    }
    out = {
        "messages": n,
        "per_s": round(n / total_wall, 1),
        "cpu_ms_per_message": round(total_cpu * 1000 / n, 2),
        "wall_ms_per_message": round(total_wall * 1000 / n, 2),
        "steps": per,
        "statements_per_message": {k: round(v / n, 2) for k, v in statements.most_common()},
    }
    try:
        import hl7

        c0 = time.process_time()
        for _, raw in messages:
            hl7.parse(raw.decode())
        out["reference_python_hl7_parse_cpu_ms"] = round((time.process_time() - c0) * 1000 / n, 3)
    except ImportError:
        pass
    return out


# -- the run -------------------------------------------------------------------------------------
def run_adt(args: AdtArgs, say: Callable[[str], None] = print) -> dict[str, Any]:
    from bench.run import machine

    out: dict[str, Any] = {
        "mode": "adt",
        "started_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "args": {k: v for k, v in args.__dict__.items() if k != "pg_url"},
        # The machine is shared: how busy it was says how far to trust the absolute figures.
        "load_average_at_start": os.getloadavg(),
    }
    load.recreate_database(args.pg_url, args.db_name)
    url, dsn = load.sa_url(args.pg_url, args.db_name), load.db_dsn(args.pg_url, args.db_name)
    now = datetime.now(UTC)
    log = RESULTS / "adt-servers.log"
    RESULTS.mkdir(exist_ok=True)
    log.write_text("")
    try:
        load.build_schema(url)
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(CREATE_RAW_TABLE)
            settings = ("server_version", "synchronous_commit", "fsync", "shared_buffers")
            out["machine"]["postgres"] = {s: c.execute(f"SHOW {s}").fetchone()[0] for s in settings}  # type: ignore[index]
        if args.profile_only:
            out["profile"] = where_time_goes(url, now, args)
            return out
        raw_messages = (mix(0, args.patients, now, "X") * 4)[: max(3000, 3 * args.patients)]
        say(f"raw baselines ({len(raw_messages):,} messages, one connection):")
        out["raw_before"] = raw_baselines(dsn, raw_messages, args, log, paced=True)
        say(_raw_line(out["raw_before"]))
        say(f"HomeFirst listener ({3 * args.patients:,} messages, one connection):")
        out["homefirst"] = homefirst(url, dsn, args, now, log)
        for name, s in out["homefirst"].items():
            if isinstance(s, dict):
                say(f"  {name:24s} {s['per_s']:>8,}/s  p50 {s['p50_ms']} ms  p99 {s['p99_ms']} ms")
        out["raw_after"] = raw_baselines(dsn, raw_messages, args, log, paced=False)
        say(_raw_line(out["raw_after"]))
        if args.profile_messages:
            say(f"where the time goes ({args.profile_messages} messages in-process):")
            out["profile"] = where_time_goes(url, now, args)
        _ratios(out)
    finally:
        if not args.keep_db:
            load.drop_database(args.pg_url, args.db_name)
        out["finished_at"] = datetime.now(UTC).isoformat()
        out["load_average_at_end"] = os.getloadavg()
    return out


def _raw_line(raw: dict[str, Any]) -> str:
    return (
        f"  echo {raw['echo']['per_s']:,}/s (p50 {raw['echo']['p50_ms']} ms), echo with "
        f"INSERT+COMMIT {raw['echo_commit']['per_s']:,}/s (p50 {raw['echo_commit']['p50_ms']} ms), "
        f"INSERT+COMMIT loop {raw['insert_commit_loop']['per_s']:,}/s"
    )


def _ratios(out: dict[str, Any]) -> None:
    before, after = out["raw_before"], out["raw_after"]

    def mean(name: str) -> float:
        return float(before[name]["per_s"] + after[name]["per_s"]) / 2

    drift = abs(before["echo_commit"]["per_s"] - after["echo_commit"]["per_s"])
    out["raw_drift"] = round(drift / mean("echo_commit"), 3)
    thr, paced = out["homefirst"]["throughput"], out["homefirst"]["paced"]
    out["ratios"] = {
        "throughput_to_echo": round(thr["per_s"] / mean("echo"), 4),
        "throughput_to_echo_commit": round(thr["per_s"] / mean("echo_commit"), 4),
        "paced_p99_to_echo_commit_paced_p99": round(
            paced["p99_ms"] / before["echo_commit_paced"]["p99_ms"], 1
        ),
    }
    kept_pace = paced["per_s"] >= 0.95 * paced["rate"]
    out["targets"] = [
        {
            "target": f"at least {TARGET_PER_S} messages/s with ACK over one MLLP connection",
            "figure": thr["per_s"],
            "met": thr["per_s"] >= TARGET_PER_S,
        },
        {
            "target": f"p99 ACK latency under {TARGET_P99_MS:.0f} ms at {paced['rate']:.0f} messages/s",
            "figure": f"p99 {paced['p99_ms']} ms at {paced['per_s']}/s achieved"
            + ("" if kept_pace else " (could not keep the pace)"),
            "met": kept_pace and paced["p99_ms"] < TARGET_P99_MS,
        },
    ]


def report(out: dict[str, Any]) -> str:
    pg = out["machine"]["postgres"]
    lines = [
        f"ADT feed over MLLP (PostgreSQL {pg['server_version']}, synchronous_commit "
        f"{pg['synchronous_commit']}; {out['machine']['cpus']} CPUs)",
        f"  load average (1, 5, 15 min) at start {out['load_average_at_start']}, "
        f"at end {out['load_average_at_end']}",
    ]
    if "homefirst" in out:
        lines += _measured(out)
    if "profile" in out:
        lines += _profile_lines(out["profile"])
    for t in out.get("targets", []):
        lines.append(f"  {'met ' if t['met'] else 'MISSED'}  {t['target']}: {t['figure']}")
    return "\n".join(lines)


def _measured(out: dict[str, Any]) -> list[str]:
    h = out["homefirst"]
    lines = [f"  {'':34s} {'msg/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"]
    rows = [(f"raw: {k}", v) for k, v in out["raw_before"].items() if "per_s" in v]
    rows += [(f"HomeFirst: {k}", v) for k, v in h.items() if isinstance(v, dict)]
    rows += [(f"raw after: {k}", v) for k, v in out["raw_after"].items() if "per_s" in v]
    for name, s in rows:
        lines.append(
            f"  {name:34s} {s['per_s']:>8,} {s.get('p50_ms') or '':>8} "
            f"{s.get('p95_ms') or '':>8} {s.get('p99_ms') or '':>8}"
        )
    lines.append(
        f"  HomeFirst p50 by message type: {h['throughput']['p50_ms_by_trigger']}; listener and "
        f"PostgreSQL CPU {h['throughput']['server_cpu_ms_per_message']} ms a message"
    )
    lines.append(f"  ratios: {out['ratios']} (raw drift {out['raw_drift']:.0%})")
    return lines


def _profile_lines(p: dict[str, Any]) -> list[str]:
    lines = [
        f"  in-process, {p['messages']} messages: {p['per_s']}/s, "
        f"{p['cpu_ms_per_message']} ms CPU and {p['wall_ms_per_message']} ms wall a message:"
    ]
    for label, s in p["steps"].items():
        lines.append(f"    {label:44s} CPU {s['cpu_ms']:7.2f} ms  wall {s['wall_ms']:7.2f} ms")
    lines.append(f"    statements a message: {p['statements_per_message']}")
    if "reference_python_hl7_parse_cpu_ms" in p:
        lines.append(
            f"    (for reference: python-hl7 parses the same messages in "
            f"{p['reference_python_hl7_parse_cpu_ms']} ms CPU each)"
        )
    return lines


def save(out: dict[str, Any]) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-adt.json"
    text = json.dumps(out, indent=2, default=str)
    path.write_text(text)
    (RESULTS / "latest-adt.json").write_text(text)
    latest = RESULTS / "latest.json"
    merged = json.loads(latest.read_text()) if latest.exists() else {}
    merged["adt"] = out
    latest.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    return path
