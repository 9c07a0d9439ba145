"""The CHC part of the demo: the three sample backlog lists imported as a CSU would, through the
same import jobs as an upload, so the assessors' queue opens with merged rows, every RAG rating
and their provenance."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import Actor
from app.calc.nhs_number import nhs_number_check_digit
from app.cases.transition import CaseWriter
from app.chc.config import ChcConfig
from app.chc.import_runner import Runner, run_pending_imports, wait_until_finished
from app.chc.importer import submit
from app.csvout import to_csv
from app.timeutil import london_date

SAMPLE_LISTS = Path(__file__).resolve().parent.parent / "chc" / "sample_lists"
# (file, source list name as the CSU knows it)
LISTS = (("mlcsu.csv", "MLCSU"), ("lscft.csv", "LSCFT"), ("sefton_mbc.csv", "Sefton MBC"))
FINISH_WITHIN_SECONDS = 120


def load_chc_backlog(
    sessions: sessionmaker[Session],
    writer: CaseWriter,
    cfg: ChcConfig,
    actor: Actor,
    now: datetime,
) -> int:
    """Import the sample lists and this week's referrals (once: the same file again is the same
    job); the jobs run."""
    files = [(name, source, (SAMPLE_LISTS / name).read_bytes()) for name, source in LISTS]
    files.append(("csu-recent.csv", "CSU referrals", recent_referrals(london_date(now))))
    with sessions() as session:
        jobs = [
            submit(
                session,
                cfg=cfg,
                actor=actor,
                source=source,
                filename=filename,
                file=io.BytesIO(content),
                declared_encoding=None,
                now=now,
            ).import_id
            for filename, source, content in files
        ]
    ran = run_pending_imports(Runner(sessions, writer, cfg))
    # A running service's own import thread may have taken a job: the demo is whole once every
    # job has finished, whoever ran it.
    wait_until_finished(sessions, jobs, timeout=timedelta(seconds=FINISH_WITHIN_SECONDS))
    return ran


# Referrals made recently, relative to the day the demo is loaded: the sample lists date from
# 2020 and are all red by now; these give the queue its amber and green tiers. (days since
# referral, setting, interim package ends in N days or None, fast track, safeguarding)
RECENT = (
    (3, "Community", None, "N", "N"),
    (9, "Care home", None, "N", "N"),
    (12, "Acute", None, "N", "N"),
    (20, "Community", 7, "N", "N"),
    (41, "Community", None, "N", "N"),
    (96, "Nursing home", None, "N", "N"),
    (5, "Community", None, "Y", "N"),
)
FIRST_NAMES = ("Edna", "Albert", "Joan", "Wilfred", "Irene", "Stanley", "Doreen")
SURNAMES = ("Molyneux", "Rimmer", "Aspinall", "Formby", "Halsall", "Gregson", "Blundell")


def recent_referrals(today: date) -> bytes:
    rows = []
    for i, (days, setting, package_days, fast_track, safeguarding) in enumerate(RECENT):
        rows.append(
            [
                f"CSU-{i + 1:04d}",
                _test_nhs_number(i),
                f"{FIRST_NAMES[i]} {SURNAMES[i]}",
                (date(1936, 1, 1) + timedelta(days=1500 * i)).strftime("%d/%m/%Y"),
                f"L3{i} 1AB",
                (today - timedelta(days=days)).strftime("%d/%m/%Y"),
                setting,
                "Y" if package_days is not None else "N",
                (today + timedelta(days=package_days)).strftime("%d/%m/%Y")
                if package_days is not None
                else "",
                fast_track,
                safeguarding,
            ]
        )
    header = [
        "Ref", "NHS Number", "Name", "Date of Birth", "Postcode", "Referral Date", "Setting",
        "NHS Funded Package", "Package End", "Fast Track", "Safeguarding",
    ]  # fmt: skip
    return to_csv(header, rows).encode()


def _test_nhs_number(i: int) -> str:
    """A valid NHS number in the 999 range NHS England keeps for testing."""
    n = 0
    while True:
        first_nine = f"999{7000 + i * 37 + n:06d}"
        digit = nhs_number_check_digit(first_nine)
        if digit is not None:
            return f"{first_nine}{digit}"
        n += 1
