"""`python -m bench run --quick | --full`, `python -m bench imports`, `python -m bench
tracker`, `python -m bench adt`, `python -m bench scale`, `python -m bench notify`,
`python -m bench ledger`, `python -m bench forecast` and `python -m bench whatif` (see
bench/README.md)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from bench.run import FULL, QUICK, Ctx, report, run, save


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="build the data set, measure, print a table, write JSON")
    size = r.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="10k open cases, 300k events (default)")
    size.add_argument("--full", action="store_true", help="10k/50k/100k open, 2M then 10M events")
    r.add_argument(
        "--pg-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    r.add_argument("--db-name", default="hf_bench")
    r.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    r.add_argument("--seed", type=int, default=20261123)
    r.add_argument("--keep-db", action="store_true", help="leave the bench database behind")
    r.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["transitions", "auth", "claims", "dashboard", "big", "sqlite"],
    )
    r.add_argument("--no-save", action="store_true", help="print only; write no JSON")
    r.add_argument(
        "--claim-backlog", type=int, help="CHC claim backlog per run (default: the mode's)"
    )
    r.add_argument(
        "--claim-budget", type=float, help="seconds each claim drain may take (default: the mode's)"
    )
    a = sub.add_parser("auth", help="only the authentication-per-request measurement (a minute)")
    a.add_argument(
        "--pg-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    a.add_argument("--db-name", default="hf_bench_auth")
    a.add_argument("--seconds", type=float, default=6.0)
    i = sub.add_parser("imports", help="the CHC backlog import as a job: rows/s, peak memory")
    i.add_argument("--pg-url", default=r.get_default("pg_url"))
    i.add_argument("--db-name", default="hf_bench_imports")
    i.add_argument("--rows", type=int, default=100_000, help="rows of the valid list")
    i.add_argument(
        "--profile-rows",
        type=int,
        default=20_000,
        help="rows timed step by step in-process (0: none)",
    )
    i.add_argument("--seed", type=int, default=20261203)
    i.add_argument("--keep-db", action="store_true")
    i.add_argument("--no-save", action="store_true")
    t = sub.add_parser("tracker", help="the discharge team's tracker at 100k open cases: p50/p95")
    t.add_argument("--pg-url", default=r.get_default("pg_url"))
    t.add_argument("--db-name", default="hf_bench_tracker")
    t.add_argument("--open", type=int, default=100_000, help="open discharge cases in all")
    t.add_argument("--measured", type=int, default=2_000, help="the measured organisation's")
    t.add_argument("--orgs", type=int, default=7, help="other organisations sharing the rest")
    t.add_argument("--closed", type=int, default=20_000, help="finished spells (history)")
    t.add_argument("--shared", type=int, default=200, help="cases shared with the measured one")
    t.add_argument("--samples", type=int, default=200, help="requests per measured screen")
    t.add_argument("--seed", type=int, default=20261204)
    t.add_argument("--keep-db", action="store_true")
    t.add_argument("--reuse-db", action="store_true", help="measure a database kept before")
    t.add_argument("--no-save", action="store_true")
    d = sub.add_parser("adt", help="the HL7 v2 ADT feed over MLLP: messages/s, ACK latency")
    d.add_argument("--pg-url", default=r.get_default("pg_url"))
    d.add_argument("--db-name", default="hf_bench_adt")
    d.add_argument("--patients", type=int, default=300, help="throughput: 3 messages each")
    d.add_argument("--rate", type=float, default=100.0, help="paced messages/s for latency")
    d.add_argument("--seconds", type=float, default=20.0, help="length of each paced run")
    d.add_argument(
        "--profile-messages", type=int, default=300, help="messages timed step by step (0: none)"
    )
    d.add_argument("--cprofile", metavar="FILE", help="also write a cProfile of that run")
    d.add_argument("--profile-only", action="store_true", help="only the step timing")
    d.add_argument("--keep-db", action="store_true")
    d.add_argument("--no-save", action="store_true")
    s = sub.add_parser("scale", help="1M open cases, 20M events: dashboard, RFD, transition")
    s.add_argument("--pg-url", default=r.get_default("pg_url"))
    s.add_argument("--db-name", default="homefirst_bench_1m")
    s.add_argument("--open", type=int, default=1_000_000, help="open cases at the big point")
    s.add_argument("--events", type=int, default=20_000_000, help="events at the big point")
    s.add_argument("--small-open", type=int, default=10_000, help="open cases at the small point")
    s.add_argument("--small-events", type=int, default=200_000, help="events at the small point")
    s.add_argument("--chunk", type=int, default=100_000, help="cases stamped per statement")
    s.add_argument(
        "--load-minutes", type=float, default=25.0, help="stop loading after this (then measure)"
    )
    s.add_argument("--samples", type=int, default=100, help="requests per measured operation")
    s.add_argument("--seed", type=int, default=20261204)
    s.add_argument("--keep-db", action="store_true", help="leave the database behind")
    s.add_argument("--no-save", action="store_true")
    n = sub.add_parser("notify", help="notification fan-out to 1,000 subscribers; the transition")
    n.add_argument("--pg-url", default=r.get_default("pg_url"))
    n.add_argument("--db-name", default="hf_bench_notify")
    n.add_argument("--subscribers", type=int, default=1_000)
    n.add_argument("--transitions", type=int, default=200, help="timed per phase (3 phases)")
    n.add_argument("--events", type=int, default=20, help="single events fanned out, timed")
    n.add_argument("--keep-db", action="store_true")
    n.add_argument("--no-save", action="store_true")
    led = sub.add_parser("ledger", help="the delay ledger's derivation in process: bed days/s")
    led.add_argument("--spells", type=int, default=5_000)
    led.add_argument("--days", type=int, default=20, help="delayed bed days per spell")
    fc = sub.add_parser("forecast", help="backtest of the start windows and CHC clearance")
    fc.add_argument("--seed", type=int, default=20261204)
    fc.add_argument("--weeks", type=int, default=26, help="weeks of the system's history")
    fc.add_argument("--no-demo", action="store_true", help="skip the demo data set")
    fc.add_argument("--no-save", action="store_true")
    wi = sub.add_parser("whatif", help="the what-if simulation in process: 1,000 beds, 12 weeks")
    wi.add_argument("--runs", type=int, default=None, help="runs (whatif.yaml's default)")
    wi.add_argument("--weeks", type=int, default=12)
    wi.add_argument("--repeat", type=int, default=3, help="timed repeats (the median is shown)")
    args = parser.parse_args(argv)
    if args.command == "forecast":
        return _forecast(args)
    if args.command == "whatif":
        from bench.whatif import report as whatif_report
        from bench.whatif import run as whatif_run

        return _show(whatif_report(whatif_run(args.runs, args.weeks, args.repeat)), None, None)
    if args.command == "ledger":
        from bench.ledger import report as ledger_report
        from bench.ledger import run as ledger_run

        return _show(ledger_report(ledger_run(args.spells, args.days)), None, None)
    if not _on_this_machine(args.pg_url):
        print("the bench only runs against a PostgreSQL on this machine", file=sys.stderr)
        return 2
    if args.command == "scale":
        return _scale(args)
    if args.command == "notify":
        return _notify(args)
    if args.command == "adt":
        return _adt(args)
    if args.command == "imports":
        return _imports(args)
    if args.command == "tracker":
        return _tracker(args)
    if args.command == "auth":
        from bench.auth import report_lines, standalone

        print("\n".join(report_lines(standalone(args.pg_url, args.db_name, args.seconds, 1.0))))
        return 0
    if shutil.which("pgbench") is None:
        print("pgbench not found: apt-get install -y postgresql-client", file=sys.stderr)
        return 2
    mode = FULL if args.full else QUICK
    if args.claim_backlog is not None:
        mode = dataclasses.replace(mode, claim_backlog=args.claim_backlog)
    if args.claim_budget is not None:
        mode = dataclasses.replace(mode, claim_budget_s=args.claim_budget)
    ctx = Ctx(
        mode, args.pg_url, args.db_name, args.workers, args.keep_db, args.seed, set(args.skip)
    )
    out = run(ctx)
    return _show(report(out), None if args.no_save else save, out)


def _imports(args: argparse.Namespace) -> int:
    from bench.imports import ImportsArgs, report, run_imports, save

    out = run_imports(
        ImportsArgs(
            args.pg_url,
            args.db_name,
            args.rows,
            args.profile_rows,
            args.seed,
            args.keep_db,
            args.no_save,
        )
    )
    return _show(report(out), None if args.no_save else save, out)


def _notify(args: argparse.Namespace) -> int:
    from bench.notify import NotifyArgs, report, run_notify, save

    out = run_notify(
        NotifyArgs(
            args.pg_url,
            args.db_name,
            args.subscribers,
            args.transitions,
            args.events,
            args.keep_db,
        )
    )
    return _show(report(out), None if args.no_save else save, out)


def _adt(args: argparse.Namespace) -> int:
    from bench.adt import AdtArgs, report, run_adt, save

    out = run_adt(
        AdtArgs(
            args.pg_url,
            args.db_name,
            args.patients,
            args.rate,
            args.seconds,
            args.profile_messages,
            args.cprofile,
            args.keep_db,
            args.profile_only,
        )
    )
    return _show(report(out), None if args.no_save else save, out)


def _scale(args: argparse.Namespace) -> int:
    from bench.scale import ScaleArgs, report, run_scale, save

    out = run_scale(
        ScaleArgs(
            args.pg_url,
            args.db_name,
            args.open,
            args.events,
            args.small_open,
            args.small_events,
            args.chunk,
            args.load_minutes,
            args.samples,
            args.seed,
            args.keep_db,
        )
    )
    return _show(report(out), None if args.no_save else save, out)


def _tracker(args: argparse.Namespace) -> int:
    from bench.tracker import TrackerArgs, report, run_tracker, save

    out = run_tracker(
        TrackerArgs(
            args.pg_url,
            args.db_name,
            args.open,
            args.measured,
            args.orgs,
            args.closed,
            args.shared,
            args.samples,
            args.seed,
            args.keep_db or args.reuse_db,
            args.reuse_db,
        )
    )
    return _show(report(out), None if args.no_save else save, out)


def _on_this_machine(pg_url: str) -> bool:
    """The benches create and drop databases: only on a PostgreSQL of this machine."""
    host = pg_url.split("@")[-1].split("/")[0].split(":")[0]
    return host in ("127.0.0.1", "localhost", "::1")


def _forecast(args: Any) -> int:
    from bench.forecast import report, run_demo, run_system

    results = [run_system(args.seed, args.weeks)]
    if not args.no_demo:
        results.append(run_demo())
    return _show(report(results), None if args.no_save else _save_forecast, results)


def _save_forecast(results: Any) -> Path:
    import json
    from datetime import UTC, datetime

    folder = Path(__file__).parent / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-forecast.json"
    path.write_text(json.dumps(results, indent=2))
    (folder / "latest-forecast.json").write_text(json.dumps(results, indent=2))
    return path


def _show(text: str, save: Any, out: Any) -> int:
    """Print a bench's report, and save its figures as JSON unless --no-save."""
    print()
    print(text)
    if save is not None:
        print(f"\nJSON: {save(out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
