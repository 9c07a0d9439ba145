"""`python -m bench imports`: the CHC backlog import as a job, end to end, on PostgreSQL.

- **Raw baselines** (same run): the same CSV rows parsed with the csv module and written with one
  COPY into a plain table of text columns (before and after, for drift); and every row the
  import wrote (cases, events, clocks, evidence, work items, ratings, provenance) written again
  with plain COPY into copies of those tables: the database's share of the work.
- **Valid list** (`--rows`, 100,000 by default): every row a new person. Uploaded over HTTP to
  the real service (uvicorn, one worker, its own import runner); rows/s from the job's own start
  and finish times, the upload's answer time, the worker's peak resident memory (VmHWM) and the
  time to read the whole report back.
- **Rejected list**: a file of just under 20 MB whose rows are all refused (bad NHS numbers and
  dates): a fresh worker's peak memory over the upload, the job and reading the report.
- **Where the time goes** (`--profile-rows`, in-process): CPU time per row of each step of a
  batch, for the README's account of what bounds the rate.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from app.auth.service import add_user, create_token
from app.chc.config import chc_config
from app.composition import build_parts
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.timeutil import utcnow
from bench import load
from bench.nhs import nhs_numbers
from bench.server import Server

HEADINGS = (
    "MLCSU Ref,NHS Number,Name,Date of Birth,Postcode,Referral Date,Discharge Date,Setting,"
    "NHS Funded Package,Package End,Fast Track,Safeguarding"
)
RESULTS = Path(__file__).parent / "results"
REJECTED_BYTES = 19_900_000  # under the 20 MB cap of the CSV itself
TARGET_ROWS_PER_S = 2000
TARGET_PEAK_MB = 300


@dataclass(frozen=True)
class ImportsArgs:
    pg_url: str
    db_name: str
    rows: int
    profile_rows: int
    seed: int
    keep_db: bool
    no_save: bool


def valid_list(path: Path, rows: int, seed: int) -> None:
    """`rows` new people (distinct NHS numbers in the 999 test range), written as a stream."""
    rnd = random.Random(seed)  # noqa: S311 - test data
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADINGS + "\r\n")
        for i, nhs in enumerate(nhs_numbers(start=seed % 500_000, count=rows)):
            dob = f"{rnd.randint(1, 28):02d}/{rnd.randint(1, 12):02d}/19{rnd.randint(20, 60)}"
            referred = f"{rnd.randint(1, 28):02d}/{rnd.randint(1, 12):02d}/202{rnd.randint(0, 4)}"
            setting = rnd.choice(("Community", "Care Home", "Acute", "Home"))
            f.write(
                f"ML-{i:07d},{nhs},Person {i:06d},{dob},L20 {rnd.randint(1, 9)}AB,{referred},-,"
                f"{setting},{rnd.choice('YN')},-,N,{rnd.choice('YN')}\r\n"
            )


def rejected_list(path: Path, size: int) -> int:
    """Rows every one of which is refused (a bad check digit, an impossible date), up to
    `size` bytes; returns the rows."""
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADINGS + "\r\n")
        written, rows = len(HEADINGS) + 2, 0
        while True:
            line = (
                f"BAD-{rows:08d},99910000{rows % 10}4,Nobody Known {rows},31/02/1940,L20 3AB,"
                f"32/13/2020,-,Moon base,maybe,-,N,N\r\n"
            )
            if written + len(line) > size:
                return rows
            f.write(line)
            written += len(line)
            rows += 1


def raw_baseline(dsn: str, path: Path) -> dict[str, Any]:
    """Parse the same file and COPY its rows into a plain table: the machine's bare rate."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "CREATE TABLE bench_raw_rows (" + ", ".join(f"c{i} text" for i in range(12)) + ")"
        )
        t0 = time.perf_counter()
        with path.open(encoding="utf-8", newline="") as f, conn.cursor() as cur:
            reader = csv.reader(f)
            next(reader)
            with cur.copy("COPY bench_raw_rows FROM STDIN") as copy:
                n = 0
                for row in reader:
                    copy.write_row(row)
                    n += 1
        conn.commit()
        seconds = time.perf_counter() - t0
        conn.execute("DROP TABLE bench_raw_rows")
        conn.commit()
    return {"rows": n, "seconds": round(seconds, 2), "rows_per_s": round(n / seconds)}


# What the import writes for each new person, table by table.
WRITTEN = (
    "cases",
    "case_events",
    "clocks",
    "clock_events",
    "chc_work_items",
    "chc_rag_ratings",
    "chc_source_records",
)


def raw_rewrite(dsn: str, people: int) -> dict[str, Any]:
    """The rows the import wrote (every table, every row), read out and written again with
    plain COPY into copies of the tables with the same indexes: the database's share of the
    work, without any of the service's."""
    buffers: dict[str, bytes] = {}
    with psycopg.connect(dsn) as conn:
        for table in WRITTEN:
            conn.execute(
                f"CREATE TABLE bench_copy_{table} (LIKE {table} INCLUDING DEFAULTS INCLUDING INDEXES)"
            )
            out = io.BytesIO()
            with conn.cursor() as cur, cur.copy(f"COPY {table} TO STDOUT") as copy:
                for data in copy:
                    out.write(data)
            buffers[table] = out.getvalue()
        conn.commit()
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            for table, data in buffers.items():
                with cur.copy(f"COPY bench_copy_{table} FROM STDIN") as copy:
                    copy.write(data)
        conn.commit()
        seconds = time.perf_counter() - t0
        for table in WRITTEN:
            conn.execute(f"DROP TABLE bench_copy_{table}")
        conn.commit()
    rows = sum(data.count(b"\n") for data in buffers.values())
    return {
        "table_rows": rows,
        "seconds": round(seconds, 2),
        "people_per_s": round(people / seconds),
    }


def _server_import(
    url: str, token: str, path: Path, source: str, log: Path, say: Callable[[str], None]
) -> dict[str, Any]:
    """One list through a fresh service process: upload, follow the job, read the report."""
    server = Server(url, 1, log)
    server.start()
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base, timeout=600) as http:
            t0 = time.perf_counter()
            with path.open("rb") as f:
                r = http.post(
                    "/api/v1/imports/chc-backlog",
                    files={"file": (path.name, f, "text/csv")},
                    data={"source": source},
                    headers=headers,
                )
            upload_s = time.perf_counter() - t0
            if r.status_code != 202:
                raise RuntimeError(f"upload answered {r.status_code}: {r.text[:500]}")
            location = r.headers["location"]
            say(f"  uploaded {path.stat().st_size / 1e6:.1f} MB in {upload_s:.2f}s; job {location}")
            while True:
                time.sleep(1)
                job = http.get(location, headers={**headers, "Accept": "application/json"}).json()
                if job["state"] in ("done", "failed"):
                    break
                say(
                    f"  {job['state']}: {job['progress']['rows_read']:,} of "
                    f"{job['progress']['rows_total']:,} rows"
                )
            observed_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            entries = 0
            with http.stream("GET", location, headers=headers) as stream:
                body = b"".join(stream.iter_bytes())
            report_s = time.perf_counter() - t1
            report = json.loads(body)
            for name in ("accepted", "merged", "conflicts", "rejected", "unchanged"):
                entries += len(report.get(name, []))
        started = datetime.fromisoformat(job["started_at"])
        finished = datetime.fromisoformat(job["finished_at"])
        job_s = (finished - started).total_seconds()
        rows = job["rows_total"]
        return {
            "state": job["state"],
            "error": job["error"],
            "bytes": path.stat().st_size,
            "rows": rows,
            "counts": job["counts"],
            "upload_answer_s": round(upload_s, 2),
            "job_s": round(job_s, 1),
            "rows_per_s": round(rows / job_s) if job_s else None,
            "upload_to_done_s": round(observed_s, 1),
            "report_read_s": round(report_s, 2),
            "report_bytes": len(body),
            "report_entries": entries,
            "worker_peak_rss_mb": max(server.peak_rss_mb().values()),
        }
    finally:
        server.stop()


@contextlib.contextmanager
def _timed(targets: list[tuple[Any, str, str]]) -> Iterator[Counter[str]]:
    """CPU seconds spent in each target (object, attribute, label) while the block runs."""
    spent: Counter[str] = Counter()
    saved = []
    for obj, name, label in targets:
        original = getattr(obj, name)
        saved.append((obj, name, original))

        def wrapper(*a: Any, _f: Any = original, _l: str = label, **k: Any) -> Any:
            t = time.process_time()
            try:
                return _f(*a, **k)
            finally:
                spent[_l] += time.process_time() - t

        setattr(obj, name, wrapper)
    try:
        yield spent
    finally:
        for obj, name, original in saved:
            setattr(obj, name, original)


def where_time_goes(url: str, path: Path, rows: int) -> dict[str, Any]:
    """The runner in this process, each step's CPU time per row (the rest: the merge loop,
    lookups, the job row, commits)."""
    from app.auth.actor import Actor
    from app.cases import repository as case_repo
    from app.chc import import_runner, importer, merge, readmodel
    from app.clocks import repository as clock_repo
    from app.clocks import service as clock_service
    from app.engine import engine as engine_mod

    settings = Settings(database_url=url, clock_sweep_interval_seconds=0)
    parts = build_parts(settings)
    cfg = chc_config(settings.pathways_dir / "config")
    sessions = make_sessionmaker(make_engine(url))
    with sessions() as session:
        user = add_user(
            session,
            username="bench-profile",
            display_name="bench-profile",
            organisation="BENCH-PROFILE",
            roles=["chc_assessor"],
        )
    actor = Actor(user.id, user.username, user.organisation, frozenset(user.role_list))
    data = io.BytesIO()
    with path.open("rb") as f:
        data.write(f.readline())
        for _ in range(rows):
            data.write(f.readline())
    with sessions() as session:
        job = importer.submit(
            session,
            cfg=cfg,
            actor=actor,
            source="MLCSU",
            filename="profile.csv",
            file=data,
            declared_encoding=None,
            now=utcnow(),
        )
    targets = [
        (import_runner, "make_row", "read and check a row (csvread)"),
        (engine_mod.Engine, "open_case", "engine: open the case (ORM objects, checks)"),
        (clock_service.ClockService, "apply", "  of which: start its clocks"),
        (case_repo.StagedCaseStore, "write", "write cases and first events (COPY)"),
        (clock_repo.StagedClockRepository, "write", "write clocks and evidence (COPY)"),
        (readmodel.ChcWorkItems, "project_opened", "CHC read model: rate, write items"),
        (merge.ListMerger, "place", "all of a batch (merge.place)"),
    ]
    with _timed(targets) as spent:
        c0, t0 = time.process_time(), time.perf_counter()
        import_runner.run_pending_imports(
            import_runner.Runner(sessions, parts.writer, cfg), only=job.import_id
        )
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    steps = {label: round(spent[label] / rows * 1e6) for _, _, label in targets}
    return {
        "rows": rows,
        "cpu_us_per_row": round(cpu / rows * 1e6),
        "wall_us_per_row": round(wall / rows * 1e6),
        "rows_per_s": round(rows / wall),
        "steps_cpu_us_per_row": steps,
    }


def run_imports(args: ImportsArgs, say: Callable[[str], None] = print) -> dict[str, Any]:
    from bench.run import machine

    out: dict[str, Any] = {
        "mode": "imports",
        "started_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "rows": args.rows,
    }
    load.recreate_database(args.pg_url, args.db_name)
    url = load.sa_url(args.pg_url, args.db_name)
    dsn = load.db_dsn(args.pg_url, args.db_name)
    try:
        load.build_schema(url)
        with psycopg.connect(dsn) as c:
            out["machine"]["postgres"] = c.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        sessions = make_sessionmaker(make_engine(url))
        with sessions() as session:
            add_user(
                session,
                username="bench-importer",
                display_name="bench-importer",
                organisation="BENCH-ORG",
                roles=["chc_assessor"],
            )
            token = create_token(session, username="bench-importer").token
        with tempfile.TemporaryDirectory() as tmp:
            valid, bad = Path(tmp) / "valid.csv", Path(tmp) / "rejected.csv"
            valid_list(valid, args.rows, args.seed)
            bad_rows = rejected_list(bad, REJECTED_BYTES)
            say(
                f"lists: {args.rows:,} valid rows ({valid.stat().st_size / 1e6:.1f} MB), "
                f"{bad_rows:,} rejected rows ({bad.stat().st_size / 1e6:.1f} MB)"
            )
            out["raw_before"] = raw_baseline(dsn, valid)
            say(f"raw COPY of the same rows: {out['raw_before']['rows_per_s']:,}/s")
            say("valid list over HTTP:")
            out["valid"] = _server_import(url, token, valid, "MLCSU", Path(tmp) / "a.log", say)
            say(
                f"  {out['valid']['rows_per_s']:,} rows/s, peak {out['valid']['worker_peak_rss_mb']} MB"
            )
            out["raw_rewrite"] = raw_rewrite(dsn, args.rows)
            say(
                "the rows it wrote, with plain COPY: "
                f"{out['raw_rewrite']['people_per_s']:,} people/s"
            )
            say("rejected 20 MB list over HTTP (a fresh worker):")
            out["rejected"] = _server_import(url, token, bad, "MLCSU", Path(tmp) / "b.log", say)
            say(
                f"  {out['rejected']['rows_per_s']:,} rows/s, peak "
                f"{out['rejected']['worker_peak_rss_mb']} MB"
            )
            out["raw_after"] = raw_baseline(dsn, valid)
            if args.profile_rows:
                say(f"where the time goes ({args.profile_rows:,} rows in-process):")
                out["profile"] = where_time_goes(url, valid, args.profile_rows)
        raw = (out["raw_before"]["rows_per_s"] + out["raw_after"]["rows_per_s"]) / 2
        out["raw_drift"] = round(
            abs(out["raw_before"]["rows_per_s"] - out["raw_after"]["rows_per_s"]) / raw, 3
        )
        out["ratio_to_raw"] = round(out["valid"]["rows_per_s"] / raw, 4)
        out["ratio_to_rewrite"] = round(
            out["valid"]["rows_per_s"] / out["raw_rewrite"]["people_per_s"], 3
        )
        out["targets"] = [
            {
                "target": f"at least {TARGET_ROWS_PER_S:,} rows/s ({args.rows:,} valid rows)",
                "figure": out["valid"]["rows_per_s"],
                "met": out["valid"]["rows_per_s"] >= TARGET_ROWS_PER_S,
            },
            {
                "target": f"worker under {TARGET_PEAK_MB} MB at a 20 MB file",
                "figure": out["rejected"]["worker_peak_rss_mb"],
                "met": out["rejected"]["worker_peak_rss_mb"] < TARGET_PEAK_MB
                and out["valid"]["worker_peak_rss_mb"] < TARGET_PEAK_MB,
            },
        ]
    finally:
        if not args.keep_db:
            load.drop_database(args.pg_url, args.db_name)
    out["finished_at"] = datetime.now(UTC).isoformat()
    return out


def report(out: dict[str, Any]) -> str:
    v, b = out["valid"], out["rejected"]
    lines = [
        f"CHC backlog import ({out['rows']:,} valid rows; PostgreSQL {out['machine'].get('postgres')})",
        f"  raw COPY of the same rows   {out['raw_before']['rows_per_s']:>9,}/s before, "
        f"{out['raw_after']['rows_per_s']:,}/s after (drift {out['raw_drift']:.0%})",
        f"  the rows it wrote, COPY     {out['raw_rewrite']['people_per_s']:>9,} people/s "
        f"({out['raw_rewrite']['table_rows']:,} rows in {out['raw_rewrite']['seconds']}s)",
        f"  valid list                  {v['rows_per_s']:>9,} rows/s ({out['ratio_to_raw']:.3f}x "
        f"raw, {out['ratio_to_rewrite']:.2f}x its own rows by COPY), "
        f"job {v['job_s']}s, upload answered in {v['upload_answer_s']}s, "
        f"report {v['report_bytes'] / 1e6:.1f} MB in {v['report_read_s']}s, "
        f"worker peak {v['worker_peak_rss_mb']} MB",
        f"  20 MB of rejected rows      {b['rows_per_s']:>9,} rows/s, {b['rows']:,} rows, "
        f"upload answered in {b['upload_answer_s']}s, report {b['report_bytes'] / 1e6:.1f} MB "
        f"in {b['report_read_s']}s, worker peak {b['worker_peak_rss_mb']} MB",
    ]
    if "profile" in out:
        p = out["profile"]
        lines.append(
            f"  in-process, {p['rows']:,} rows: {p['rows_per_s']:,} rows/s, "
            f"{p['cpu_us_per_row']} us CPU per row:"
        )
        lines += [f"    {k:48s} {us:>5} us" for k, us in p["steps_cpu_us_per_row"].items()]
    for t in out["targets"]:
        lines.append(f"  {'met ' if t['met'] else 'MISSED'}  {t['target']}: {t['figure']}")
    return "\n".join(lines)


def save(out: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-imports.json"
    text = json.dumps(out, indent=2, default=str)
    path.write_text(text)
    (RESULTS / "latest-imports.json").write_text(text)
    latest = RESULTS / "latest.json"
    merged = json.loads(latest.read_text()) if latest.exists() else {}
    merged["imports"] = out
    latest.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    return path
