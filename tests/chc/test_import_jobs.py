"""Backlog imports as jobs: the upload queues, a runner places the rows in batches committed with
a checkpoint; a crash resumes from it, a runner that lost its lease changes nothing, two runners
never run one job twice, and text that is not valid in its encoding is refused."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.calc.nhs_number import nhs_number_check_digit
from app.cases.transition import CaseWriter
from app.chc import importer
from app.chc.import_runner import Runner, run_pending_imports
from app.chc.merge import ListMerger
from app.chc.readmodel import ChcWorkItems
from app.chc.repository import ChcRepository
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.engine.catalogue import PathwayCatalogue
from app.engine.replay import replay
from app.models import (
    Case,
    CaseEvent,
    ChcImport,
    ChcImportChunk,
    ChcImportRejection,
    ChcRagRating,
    ChcSourceRecord,
    ChcWorkItem,
    Clock,
    ClockEvent,
    User,
)
from app.timeutil import utcnow
from tests.chc.helpers import CFG, ChcApi
from tests.conftest import _user_factory, migrated_database_url
from tests.hardening.conftest import serve

HEAD = "Record ID,NHS Number,Name,Date of Birth,Postcode,Referral Date,Package End,Fast Track\r\n"


def _numbers(start: int, count: int) -> list[str]:
    out, body = [], start
    while len(out) < count:
        check = nhs_number_check_digit(f"999{body:06d}")
        if check is not None:
            out.append(f"999{body:06d}{check}")
        body += 1
    return out


def _messy_list(seed: int) -> bytes:
    """New people, people named twice (merged), a record id twice, a bad row, a blank row and
    Fast Track rows, spread so that batches of 4 split them."""
    nhs = _numbers(100_000 + seed * 1000, 16)
    rows = [
        f"R{i:02d},{nhs[i]},Person {i},0{i % 9 + 1}/02/1941,L20 3AB,10/09/2020,,N"
        for i in range(16)
    ]
    rows[6] = f"R06,{nhs[1]},Person 1,02/02/1941,L20 3AB,10/09/2020,31/12/2020,N"  # row 8: merge
    rows[9] = ""  # row 11: blank
    rows[11] = f"R02,{nhs[11]},Person 11,02/02/1941,L20 3AB,10/09/2020,,N"  # row 13: R02 again
    rows[13] = "R13,9991000004,Person 13,02/02/1941,L20 3AB,10/09/2020,,N"  # row 15: bad NHS
    rows[14] = f"R14,{nhs[3]},Person 3,04/02/1941,L20 3AB,10/09/2020,30/11/2020,N"  # row 16: merge
    rows[15] = f"R15,{nhs[15]},Person 15,07/02/1941,L20 3AB,10/09/2020,,Y"  # row 17: Fast Track
    rows.append(f"R16,{nhs[15]},Person 15,07/02/1941,L20 3AB,10/09/2020,31/01/2021,Y")  # merge
    return (HEAD + "\r\n".join(rows) + "\r\n").encode()


@pytest.fixture(scope="module")
def own_db(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> str:
    """A database of this module's own: no other test's runner (the shared client runs one)
    takes these jobs, so each test decides when a job runs."""
    return migrated_database_url(backend, tmp_path_factory.mktemp("jobs"), request)


@pytest.fixture(scope="module")
def sessions(own_db: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(own_db)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def make_user(sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    return _user_factory(sessions)


@pytest.fixture(scope="module")
def quiet(own_db: str) -> Iterator[TestClient]:
    """The service with its import runner off: jobs wait until a test runs them."""
    settings = Settings(
        database_url=own_db,
        clock_sweep_interval_seconds=0,
        live_figures_max_age_seconds=0,
        chc_import_poll_seconds=0,
    )
    with serve(settings) as client:
        yield client


def _runner(sessions: sessionmaker[Session], writer: CaseWriter, **kw: Any) -> Runner:
    return Runner(sessions, writer, CFG, **kw)


def _footprint(sessions: sessionmaker[Session], org: str) -> dict[str, int]:
    in_org = select(Case.id).where(Case.organisation == org).scalar_subquery()
    jobs = select(ChcImport.id).where(ChcImport.organisation == org).scalar_subquery()
    queries = {
        "cases": select(func.count()).select_from(Case).where(Case.organisation == org),
        "events": select(func.count()).where(CaseEvent.case_id.in_(in_org)),
        "clocks": select(func.count()).where(Clock.case_id.in_(in_org)),
        "clock_evidence": select(func.count()).where(ClockEvent.case_id.in_(in_org)),
        "work_items": select(func.count()).where(ChcWorkItem.case_id.in_(in_org)),
        "ratings": select(func.count()).where(ChcRagRating.case_id.in_(in_org)),
        "records": select(func.count()).where(ChcSourceRecord.organisation == org),
        "rejections": select(func.count()).where(ChcImportRejection.import_id.in_(jobs)),
        "chunks": select(func.count()).where(ChcImportChunk.import_id.in_(jobs)),
    }
    with sessions() as session:
        return {k: int(session.execute(q).scalar_one()) for k, q in queries.items()}


def _report(api: ChcApi, import_id: int) -> dict[str, Any]:
    r = api.client.get(f"/api/v1/imports/chc-backlog/{import_id}", headers=api.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The report's lists without the ids that differ from one organisation to another."""
    lists = ("accepted", "merged", "conflicts", "rejected", "unchanged", "warnings", "blank_rows")
    out: dict[str, Any] = {"counts": report["counts"], "rows_total": report["rows_total"]}
    for name in lists:
        out[name] = [
            {k: v for k, v in e.items() if k not in ("case_id", "item_id", "fields")}
            if isinstance(e, dict)
            else e
            for e in report[name]
        ]
    return out


def _clean_run(
    quiet: TestClient, make_user, sessions: sessionmaker[Session], writer: CaseWriter, data: bytes
) -> tuple[dict[str, Any], dict[str, int]]:
    user = make_user("chc_assessor")
    api = ChcApi(quiet, user.headers)
    job = api.upload("MLCSU", "list.csv", data, expect=202).json()
    assert run_pending_imports(_runner(sessions, writer), only=job["id"]) == 1
    return _report(api, job["id"]), _footprint(sessions, user.org)


class Crash(BaseException):
    """The process dies (not an error the runner handles)."""


def test_the_upload_only_queues_and_a_runner_does_the_work(
    quiet: TestClient,
    make_user,
    sessions: sessionmaker[Session],
    writer: CaseWriter,
    catalogue: PathwayCatalogue,
) -> None:
    user = make_user("chc_assessor")
    api = ChcApi(quiet, user.headers)
    data = _messy_list(1)
    r = api.upload("MLCSU", "list.csv", data, expect=202)
    job = r.json()
    assert r.headers["location"] == f"/api/v1/imports/chc-backlog/{job['id']}"
    assert (job["state"], job["progress"]) == ("queued", {"rows_read": 0, "rows_total": 16})
    assert job["counts"] == dict.fromkeys(
        ("accepted", "merged", "conflicts", "rejected", "unchanged"), 0
    )
    spooled = _footprint(sessions, user.org)
    assert (spooled["cases"], spooled["chunks"]) == (0, 1)  # the file, nothing placed yet

    # The same file while it waits: the same job, 200, and nothing more is written.
    again = api.upload("MLCSU", "list.csv", data, expect=200).json()
    assert (again["id"], again["state"], again["already_imported"]) == (job["id"], "queued", True)
    assert _footprint(sessions, user.org) == spooled
    assert _report(api, job["id"])["state"] == "queued"

    progress: list[tuple[int, int]] = []
    runner = _runner(
        sessions,
        writer,
        batch_rows=4,
        after_batch=lambda j: progress.append((j.rows_read, j.next_row)),
    )
    assert run_pending_imports(runner, only=job["id"]) == 1
    # Batches of four records (the blank row counts as one), each committed with its checkpoint.
    assert progress == [(4, 6), (8, 10), (11, 14), (15, 18), (16, 19)]
    done = _report(api, job["id"])
    assert (done["state"], done["error"], done["progress"]) == (
        "done",
        None,
        {"rows_read": 16, "rows_total": 16},
    )
    assert done["counts"] == {
        "accepted": 11,
        "merged": 3,
        "conflicts": 0,
        "rejected": 2,
        "unchanged": 0,
    }
    assert [(m["row"], m["filled"]) for m in done["merged"]] == [
        (8, ["package_end_date"]),
        (16, ["package_end_date"]),
        (18, ["package_end_date"]),
    ]
    assert [(r["row"], r["reasons"][0][:40]) for r in done["rejected"]] == [
        (13, "record id R02 appears again (first at ro"),
        (15, "NHS number '9991000004' is not valid (10"),
    ]
    assert done["blank_rows"] == [11]
    after = _footprint(sessions, user.org)
    assert after["chunks"] == 0  # the spooled file goes once the job is done
    # 11 people, one event each, three merges. A list's Fast Track flag is recorded on the open
    # event (`fast_track_flagged`), never as a Fast Track: "an 'appropriate clinician' ... a
    # registered nurse or a registered medical practitioner" must complete that.
    assert (after["cases"], after["events"]) == (11, 11 + 3)
    assert api.upload("MLCSU", "list.csv", data, expect=200).json()["state"] == "done"
    assert _footprint(sessions, user.org) == after
    # The cases opened together have the work items and clocks one-at-a-time opening gives.
    with sessions() as session:
        assert ChcWorkItems(CFG).check(session, now=utcnow()) == []
        for case in session.execute(select(Case).where(Case.organisation == user.org)).scalars():
            events = session.execute(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
            ).scalars()
            assert replay(catalogue, list(events)).state == case.state
            clock = session.execute(
                select(Clock).where(Clock.case_id == case.id, Clock.name == "chc_28_day")
            ).scalar_one()
            assert (clock.state, clock.started_at) == ("running", case.opened_at)


def test_a_crash_resumes_from_the_checkpoint_and_applies_no_row_twice(
    quiet: TestClient, make_user, sessions: sessionmaker[Session], writer: CaseWriter
) -> None:
    data = _messy_list(2)
    clean, clean_footprint = _clean_run(quiet, make_user, sessions, writer, data)

    user = make_user("chc_assessor")
    api = ChcApi(quiet, user.headers)
    job = api.upload("MLCSU", "list.csv", data, expect=202).json()
    batches = 0

    def die_after_two(_job: ChcImport) -> None:
        nonlocal batches
        batches += 1
        if batches == 2:
            raise Crash

    with pytest.raises(Crash):
        run_pending_imports(
            _runner(sessions, writer, batch_rows=4, after_batch=die_after_two), only=job["id"]
        )
    stopped = _report(api, job["id"])
    assert (stopped["state"], stopped["progress"]["rows_read"]) == ("running", 8)
    with sessions() as session:
        held = session.get(ChcImport, job["id"])
        assert held is not None
        assert (held.next_row, held.lease_owner is not None) == (10, True)

    # Nobody takes a job whose lease is still running ...
    assert run_pending_imports(_runner(sessions, writer), only=job["id"]) == 0
    # ... and once it has run out, the next runner goes on from row 10 (R02 at row 13 is still
    # known as the second R02: the rows before the checkpoint are re-read, not re-placed).
    later = _runner(sessions, writer, batch_rows=3, clock=lambda: utcnow() + timedelta(minutes=3))
    assert run_pending_imports(later, only=job["id"]) == 1
    resumed = _report(api, job["id"])
    assert resumed["state"] == "done"
    assert _comparable(resumed) == _comparable(clean)
    assert _footprint(sessions, user.org) == clean_footprint


def test_a_failed_batch_leaves_nothing_and_is_retried(
    quiet: TestClient,
    make_user,
    sessions: sessionmaker[Session],
    writer: CaseWriter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = _messy_list(3)
    clean, clean_footprint = _clean_run(quiet, make_user, sessions, writer, data)
    user = make_user("chc_assessor")
    api = ChcApi(quiet, user.headers)
    job = api.upload("MLCSU", "list.csv", data, expect=202).json()

    place = ListMerger.place
    calls = 0

    def fail_third(self: ListMerger, rows: list[Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        lists = place(self, rows)  # the batch's rows are written ...
        if calls == 3:  # ... and then rolled back; the error quotes a row, as database errors do
            raise RuntimeError(f"duplicate key (nhs_number)=({rows[0].values['nhs_number']})")
        return lists

    monkeypatch.setattr(ListMerger, "place", fail_third)
    with caplog.at_level(logging.ERROR, logger="app.chc.import_runner"):
        assert run_pending_imports(_runner(sessions, writer, batch_rows=4), only=job["id"]) == 1
    assert "RuntimeError" in caplog.text
    assert not re.search(r"\d{10}", caplog.text)  # no NHS number in the log
    failed = _report(api, job["id"])
    assert (failed["state"], failed["progress"]["rows_read"]) == ("running", 8)
    assert failed["error"] == ("an attempt stopped at row 10 (RuntimeError); see the service log")
    half = _footprint(sessions, user.org)
    assert half["events"] < clean_footprint["events"]
    monkeypatch.setattr(ListMerger, "place", place)
    # Retried once the wait after a failed attempt is over.
    assert run_pending_imports(_runner(sessions, writer, batch_rows=4), only=job["id"]) == 0
    later = _runner(sessions, writer, batch_rows=4, clock=lambda: utcnow() + timedelta(minutes=5))
    assert run_pending_imports(later, only=job["id"]) == 1
    done = _report(api, job["id"])
    assert (done["state"], done["error"]) == ("done", None)
    assert _comparable(done) == _comparable(clean)
    assert _footprint(sessions, user.org) == clean_footprint


def test_a_runner_that_lost_its_lease_changes_nothing(
    quiet: TestClient, make_user, sessions: sessionmaker[Session], writer: CaseWriter
) -> None:
    data = _messy_list(4)
    clean, clean_footprint = _clean_run(quiet, make_user, sessions, writer, data)
    user = make_user("chc_assessor")
    api = ChcApi(quiet, user.headers)
    job = api.upload("MLCSU", "list.csv", data, expect=202).json()
    stolen: list[int] = []

    def stall(_job: ChcImport) -> None:
        # Runner A stalls past its lease after its first batch; runner B takes the job over and
        # finishes it. A's next batch must find it no longer holds the job.
        if not stolen:
            b = _runner(
                sessions, writer, batch_rows=5, clock=lambda: utcnow() + timedelta(minutes=3)
            )
            stolen.append(run_pending_imports(b, only=job["id"]))

    a = _runner(sessions, writer, batch_rows=4, after_batch=stall)
    assert run_pending_imports(a, only=job["id"]) == 1
    assert stolen == [1]
    done = _report(api, job["id"])
    assert done["state"] == "done"
    assert _comparable(done) == _comparable(clean)
    assert _footprint(sessions, user.org) == clean_footprint


def test_two_runners_never_run_the_same_job(
    quiet: TestClient, make_user, sessions: sessionmaker[Session], writer: CaseWriter
) -> None:
    run_pending_imports(_runner(sessions, writer))  # whatever earlier tests left queued
    users = [make_user("chc_assessor") for _ in range(4)]
    jobs = [
        ChcApi(quiet, u.headers).upload("MLCSU", "list.csv", _messy_list(10 + i), expect=202).json()
        for i, u in enumerate(users)
    ]
    worked: list[int] = []
    runners = [_runner(sessions, writer, batch_rows=3) for _ in range(2)]
    threads = [
        threading.Thread(target=lambda r=r: worked.append(run_pending_imports(r))) for r in runners
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sum(worked) == 4
    with sessions() as session:
        rows = session.execute(
            select(ChcImport.state, ChcImport.attempts, ChcImport.accepted).where(
                ChcImport.id.in_([j["id"] for j in jobs])
            )
        ).all()
    assert sorted(rows) == [("done", 1, 11)] * 4
    for u in users:
        assert _footprint(sessions, u.org)["events"] == 11 + 3


@pytest.mark.postgres_only
def test_a_claimed_job_is_skipped_by_other_runners(
    backend: str, quiet: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    if backend != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED")
    first = make_user("chc_assessor")
    second = make_user("chc_assessor")
    a = ChcApi(quiet, first.headers).upload("MLCSU", "a.csv", _messy_list(20), expect=202).json()
    b = ChcApi(quiet, second.headers).upload("MLCSU", "b.csv", _messy_list(21), expect=202).json()
    with sessions() as one, sessions() as two:
        mine = ChcRepository(one).claim_job(utcnow(), only=None)
        assert mine is not None
        assert mine.id <= a["id"]
        theirs = ChcRepository(two).claim_job(utcnow())
        assert theirs is not None
        assert theirs.id != mine.id
        if mine.id == a["id"]:
            assert theirs.id == b["id"]
        one.rollback()
        two.rollback()


def test_an_uploader_who_may_no_longer_import_fails_the_job(
    quiet: TestClient, make_user, sessions: sessionmaker[Session], writer: CaseWriter
) -> None:
    user = make_user("chc_assessor")
    api = ChcApi(quiet, user.headers)
    job = api.upload("MLCSU", "list.csv", _messy_list(5), expect=202).json()
    with sessions() as session:
        session.execute(
            User.__table__.update().where(User.id == user.actor.user_id).values(active=False)
        )
        session.commit()
    assert run_pending_imports(_runner(sessions, writer), only=job["id"]) == 1
    with sessions() as session:
        row = session.get(ChcImport, job["id"])
        assert row is not None
        assert (row.state, row.error) == (
            "failed",
            f"{user.actor.username}, who uploaded the list, is no longer an active user who may "
            "import backlog lists",
        )
    assert _footprint(sessions, user.org)["cases"] == 0


# -- encodings ------------------------------------------------------------------------------------
JAPANESE = ("山田太郎", "鈴木一郎", "田中", "藤田")


def _japanese_list() -> bytes:
    nhs = _numbers(200_000, len(JAPANESE))
    rows = [
        f"J{i},{nhs[i]},{name},01/02/1941,L20 3AB,10/09/2020,,N" for i, name in enumerate(JAPANESE)
    ]
    return (HEAD + "\r\n".join(rows) + "\r\n").encode("shift_jis")


def test_shift_jis_is_refused_not_read_as_windows_1252(
    quiet: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    data = _japanese_list()
    # Every byte is defined in Windows-1252: before, the names were imported as "ŽR“c‘¾˜Y".
    assert data.decode("cp1252").count("ŽR“c‘¾˜Y") == 1
    user = make_user("chc_assessor")
    api = ChcApi(quiet, user.headers)
    r = api.upload("MLCSU", "japanese.csv", data, expect=422)
    body = r.json()
    assert body["code"] == "import_file_invalid"
    assert body["line"] == 2
    assert "does not read as Windows-1252 text ('ŽR“c‘¾˜Y')" in body["detail"]
    assert "save it as UTF-8, or declare its encoding" in body["detail"]
    assert _footprint(sessions, user.org)["chunks"] == 0
    assert api.client.get("/api/v1/imports/chc-backlog", headers=user.headers).json() == []

    # Declared, the same bytes read as what they are.
    ok = api.upload("MLCSU", "japanese.csv", data, expect=202, encoding="shift_jis").json()
    assert ok["encoding"] == "shift_jis"
    charset = api.upload(
        "LSCFT", "japanese.csv", data, expect=202, content_type="text/csv; charset=Shift_JIS"
    ).json()
    assert charset["encoding"] == "shift_jis"


def test_text_not_valid_in_its_encoding_is_refused(quiet: TestClient, make_user) -> None:
    user = make_user("chc_assessor")
    api = ChcApi(quiet, user.headers)
    latin = (
        HEAD + "J1,9991000003,Siobhán Ó Ceallaigh,01/02/1941,L20 3AB,10/09/2020,,N\r\n"
    ).encode("cp1252")
    r = api.upload("MLCSU", "x.csv", latin, expect=422, encoding="utf-8")
    assert r.json()["detail"].startswith("the file is not valid UTF-8 at line 2 (byte 0xe1)")
    undefined = latin.replace("á".encode("cp1252"), b"\x81")
    r = api.upload("MLCSU", "x.csv", undefined, expect=422)
    assert r.json()["detail"].startswith("the file is not valid Windows-1252 at line 2 (byte 0x81)")
    r = api.upload("MLCSU", "x.csv", latin, expect=422, encoding="klingon")
    assert r.json()["declared_encoding"] == "klingon"
    r = api.upload("MLCSU", "x.csv", latin, expect=422, encoding="utf-16")
    assert "cannot be read as CSV" in r.json()["detail"]
    r = api.upload(
        "MLCSU",
        "x.csv",
        latin,
        expect=422,
        encoding="utf-8",
        content_type="text/csv; charset=cp1252",
    )
    assert "the encoding field says 'utf-8' but the file part says 'cp1252'" in r.json()["detail"]
    # Western text in Windows-1252, detected, is still read as before.
    assert api.upload("MLCSU", "x.csv", latin, expect=202).json()["encoding"] == "cp1252"


class _Reads:
    """A file that records how much each read asks for, and refuses to be read whole."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.sizes = data, 0, []

    def seek(self, pos: int) -> int:
        self.pos = pos
        return pos

    def read(self, n: int = -1) -> bytes:
        assert n > 0, "the upload must never be read whole"
        self.sizes.append(n)
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out


def test_the_upload_is_read_in_pieces(make_user, sessions: sessionmaker[Session]) -> None:
    user = make_user("chc_assessor")
    notes = "n" * 600  # an ignored column, so the file spans several spooled chunks
    data = (HEAD.rstrip() + ",Notes\r\n").encode() + b"".join(
        f"R{i},{n},Person {i},01/02/1941,L20 3AB,10/09/2020,,N,{notes}\r\n".encode()
        for i, n in enumerate(_numbers(300_000, 4000))
    )
    assert len(data) > 2 * importer.SPOOL_CHUNK_BYTES
    file = _Reads(data)
    with sessions() as session:
        out = importer.submit(
            session,
            cfg=CFG,
            actor=user.actor,
            source="MLCSU",
            filename="big.csv",
            file=file,  # type: ignore[arg-type]
            declared_encoding=None,
            now=utcnow(),
        )
    assert (out.status_code, out.body["rows_total"]) == (202, 4000)
    assert max(file.sizes) <= importer.SPOOL_CHUNK_BYTES
    with sessions() as session:
        stored = session.execute(
            text("SELECT count(*) FROM chc_import_chunks WHERE import_id = :id"),
            {"id": out.import_id},
        ).scalar_one()
    assert stored == -(-len(data) // importer.SPOOL_CHUNK_BYTES)
