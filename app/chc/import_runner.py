"""Running CHC import jobs: batches committed with their checkpoint, under a lease.

A runner claims the oldest job that is queued, or running under a lease that has run out (its
runner died): `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several processes never take the same
job; SQLite's single writer lock serialises claims instead. It then reads the spooled file as a
stream and places its rows a batch at a time. Each batch is one transaction that also moves the
job's checkpoint (the next row) and renews the lease, under the job row's lock and only if the
runner still holds the lease and the checkpoint is where it left it; so a batch is applied once
or not at all, and a runner that dies mid-batch leaves nothing of that batch behind. The next
runner re-reads the rows before the checkpoint (to know the record ids already seen) and goes
on from it. A job that keeps failing is retried a few times, later each time, then `failed`
with its reason.

`run_pending_imports` does the work (tests and `homefirst chc import` call it directly);
`run_import_loop` is the service's background thread (app.main), woken by each upload.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import Actor
from app.cases.transition import CaseWriter
from app.chc.config import ChcConfig
from app.chc.csvread import ListReader, columns_of, is_blank, make_row
from app.chc.errors import IMPORT_ROLES
from app.chc.importer import COUNTED
from app.chc.merge import ListMerger
from app.chc.repository import ChcRepository
from app.db import UnitOfWork
from app.models import ChcImport
from app.timeutil import LONDON, utcnow

log = logging.getLogger(__name__)

BATCH_ROWS = 500
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5
# After a failed attempt a job waits this long times the attempts so far before the next.
RETRY_AFTER = timedelta(seconds=30)
# The planner is told about the rows an import adds after this many rows, then each time the
# job has doubled them (see ChcRepository.refresh_statistics).
ANALYZE_FIRST = 1000


class LeaseLost(Exception):
    """Another runner took the job (this one stalled past its lease): stop, change nothing."""


@dataclass
class Runner:
    """What a runner needs; `owner` names it in the job's lease."""

    sessions: sessionmaker[Session]
    writer: CaseWriter
    cfg: ChcConfig
    batch_rows: int = BATCH_ROWS
    lease: timedelta = LEASE
    clock: Callable[[], datetime] = utcnow
    owner: str = field(default_factory=lambda: f"runner-{uuid.uuid4().hex[:16]}")
    # Called after each committed batch (the command line's progress bar; tests stop here).
    after_batch: Callable[[ChcImport], None] | None = None
    stop: threading.Event | None = None


def run_pending_imports(runner: Runner, *, only: int | None = None) -> int:
    """Run jobs until none is left to claim (or just the job `only`); returns how many this
    runner worked on."""
    worked = 0
    while runner.stop is None or not runner.stop.is_set():
        with runner.sessions() as session:
            job_id = _claim(session, runner, only)
            if job_id is None:
                return worked
            worked += 1
            try:
                _run(session, runner, job_id)
            except LeaseLost:
                session.rollback()
                log.warning("import %s: another runner holds it now; this one stops", job_id)
            except Exception as exc:  # noqa: BLE001 - recorded on the job, retried, then failed
                session.rollback()
                log.error("import %s: a batch failed: %s", job_id, _where(exc))
                _failed_attempt(session, runner, job_id, type(exc).__name__)
        if only is not None:
            return worked
    return worked


def run_import_loop(runner: Runner, *, wake: threading.Event, poll_seconds: float) -> None:
    """The service's import thread: run what is pending, then wait for an upload (or a poll,
    for jobs uploaded to another process or left by a runner that died)."""
    stop = runner.stop
    while stop is None or not stop.is_set():
        try:
            run_pending_imports(runner)
        except Exception as exc:  # noqa: BLE001 - keep going after a transient database error
            log.error("CHC import runner failed: %s", _where(exc))
        wake.wait(poll_seconds)
        wake.clear()


def _where(exc: BaseException) -> str:
    """The kind of error and where it was raised, without its message: database errors quote
    the row's values (NHS numbers), which stay out of the log."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    kind = f"{type(exc).__module__}.{type(exc).__name__}"
    return f"{kind} (message withheld: it may quote row data)\n{frames}"


def _claim(session: Session, runner: Runner, only: int | None) -> int | None:
    now = runner.clock()
    repo = ChcRepository(session)
    with UnitOfWork(session):
        job = repo.claim_job(now, only=only)
        if job is None:
            return None
        job.state = "running"
        job.lease_owner = runner.owner
        job.lease_expires_at = now + runner.lease
        job.attempts += 1
        job.started_at = job.started_at or now
        return job.id


def _run(session: Session, runner: Runner, job_id: int) -> None:
    repo = ChcRepository(session)
    with UnitOfWork(session):
        job = repo.refresh_job(job_id)
        assert job is not None  # noqa: S101 - just claimed
        if job.attempts > MAX_ATTEMPTS:
            _finish(repo, runner, job, "failed", f"stopped after {MAX_ATTEMPTS} attempts")
            return
        actor = _actor(repo, job)
        if actor is None:
            _finish(
                repo,
                runner,
                job,
                "failed",
                f"{job.imported_by}, who uploaded the list, is no longer an active user who may "
                "import backlog lists",
            )
            return
    today = job.imported_at.astimezone(LONDON).date()
    # The file was read through at upload (a detected Windows-1252 file was checked then).
    reader = ListReader(_Spool(repo, job_id).read, job.encoding, declared=True)
    sources = runner.cfg.sources
    columns, _ = columns_of(reader, job.source_list, sources)
    merger = ListMerger(session, repo, runner.writer, actor, job, runner.clock())
    checkpoint = job.next_row
    placed, analyzed_at = 0, 0
    for records in _batches(reader, runner.batch_rows):
        done = [(n, c) for n, c in records if n < checkpoint]
        for number, cells in done:  # placed by an earlier run: remember its record ids
            if not is_blank(cells):
                merger.remember(make_row(number, cells, reader.headings, columns, sources, today))
        todo = records[len(done) :]
        if not todo:
            continue
        with UnitOfWork(session):
            repo.lock_organisation(job.organisation, "import")
            job = _holding(repo, runner, job_id, checkpoint)
            merger.batch, merger.now = job, runner.clock()
            rows = [
                make_row(n, c, reader.headings, columns, sources, today)
                for n, c in todo
                if not is_blank(c)
            ]
            lists = merger.place(rows)
            blank = [n for n, c in todo if is_blank(c)]
            _record_batch(repo, job, lists, blank)
            job.rows_read += len(rows)
            job.next_row = checkpoint = todo[-1][0] + 1
            job.lease_expires_at = runner.clock() + runner.lease
        placed += len(todo)
        if placed >= max(ANALYZE_FIRST, 2 * analyzed_at):  # after 1,000 rows, 2,000, 4,000 ...
            with UnitOfWork(session):
                repo.refresh_statistics()
            analyzed_at = placed
        if runner.after_batch is not None:
            runner.after_batch(job)
        if runner.stop is not None and runner.stop.is_set():
            with UnitOfWork(session):  # shutting down: another runner may go on at once
                job = _holding(repo, runner, job_id, checkpoint)
                job.lease_owner, job.lease_expires_at = None, runner.clock()
            return
    with UnitOfWork(session):
        job = _holding(repo, runner, job_id, checkpoint)
        _finish(repo, runner, job, "done", None)


def _batches(reader: ListReader, size: int) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for record in reader:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _holding(repo: ChcRepository, runner: Runner, job_id: int, checkpoint: int) -> ChcImport:
    """The job, locked, if this runner still holds it at the checkpoint it left."""
    job = repo.lock_job(job_id)
    if job is None or job.lease_owner != runner.owner or job.next_row != checkpoint:
        raise LeaseLost(job_id)
    return job


def _record_batch(
    repo: ChcRepository, job: ChcImport, lists: dict[str, list[dict[str, Any]]], blank: list[int]
) -> None:
    parts = [
        {"import_id": job.id, "kind": kind, "first_row": int(entries[0]["row"]), "entries": entries}
        for kind, entries in lists.items()
        if entries
    ]
    if blank:
        parts.append(
            {"import_id": job.id, "kind": "blank_rows", "first_row": blank[0], "entries": blank}
        )
    repo.add_report_parts(parts)
    for name in COUNTED:
        setattr(job, name, getattr(job, name) + len(lists[name]))


def _finish(
    repo: ChcRepository, runner: Runner, job: ChcImport, state: str, error: str | None
) -> None:
    job.state, job.error = state, error
    job.finished_at = runner.clock()
    job.lease_owner = job.lease_expires_at = None
    log.info(
        "import",
        extra={
            "event": "import",
            "import_id": job.id,
            "organisation": job.organisation,
            "source_list": job.source_list,
            "state": state,
            "rows_read": job.rows_read,
            "attempts": job.attempts,
        },
    )
    if state == "done":
        repo.delete_chunks(job.id)  # the rows are kept (provenance, rejections, the report)


def _failed_attempt(session: Session, runner: Runner, job_id: int, what: str) -> None:
    """Give the job back for a later attempt, or fail it after the last one. The reason names
    the row and the kind of error only: messages can carry row data (NHS numbers)."""
    repo = ChcRepository(session)
    with UnitOfWork(session):
        job = repo.lock_job(job_id)
        if job is None or job.lease_owner != runner.owner:
            return
        reason = f"an attempt stopped at row {job.next_row} ({what}); see the service log"
        if job.attempts >= MAX_ATTEMPTS:
            _finish(repo, runner, job, "failed", f"stopped after {job.attempts} attempts: {reason}")
            return
        job.error = reason
        job.lease_owner = None
        job.lease_expires_at = runner.clock() + RETRY_AFTER * job.attempts


def _actor(repo: ChcRepository, job: ChcImport) -> Actor | None:
    """The uploader as they are now: a deactivated user, or one who lost the import role,
    does not go on importing."""
    user = repo.user(job.imported_by_id)
    if user is None or not user.active:
        return None
    actor = Actor(user.id, user.username, user.organisation, frozenset(user.role_list))
    if actor.organisation != job.organisation or actor.role_for(IMPORT_ROLES) is None:
        return None
    return actor


class _Spool:
    """`read(n)` over a job's spooled chunks, fetched one at a time in the runner's session."""

    def __init__(self, repo: ChcRepository, import_id: int) -> None:
        self.repo, self.import_id = repo, import_id
        self.seq, self.buffer, self.pos = 0, b"", 0

    def read(self, n: int) -> bytes:
        if self.pos >= len(self.buffer):
            data = self.repo.chunk(self.import_id, self.seq)
            if data is None:
                return b""
            self.seq, self.buffer, self.pos = self.seq + 1, data, 0
        out = self.buffer[self.pos : self.pos + n]
        self.pos += len(out)
        return out


def requeue(sessions: sessionmaker[Session], import_id: int) -> bool:
    """A failed job, queued again to go on from its checkpoint (after its cause is fixed)."""
    with sessions() as session, UnitOfWork(session):
        job = ChcRepository(session).lock_job(import_id)
        if job is None or job.state != "failed":
            return False
        job.state, job.error, job.attempts, job.finished_at = "queued", None, 0, None
        job.lease_owner = job.lease_expires_at = None
        return True


class ImportsNotFinished(RuntimeError):
    """Jobs still unfinished when a caller stopped waiting for them."""


def wait_until_finished(
    sessions: sessionmaker[Session],
    import_ids: list[int],
    *,
    timeout: timedelta = timedelta(minutes=10),
    poll_seconds: float = 0.2,
    on_progress: Callable[[ChcImport], None] | None = None,
) -> None:
    """Wait until each job is done or failed, whoever runs it: a running service's own import
    thread may have claimed a job that a command (or the demo) submitted and tried to run."""
    deadline = time.monotonic() + timeout.total_seconds()
    while True:
        with sessions() as session:
            jobs = [session.get(ChcImport, job_id) for job_id in import_ids]
        unfinished = [j for j in jobs if j is None or j.state not in ("done", "failed")]
        if not unfinished:
            return
        if on_progress is not None and unfinished[0] is not None:
            on_progress(unfinished[0])
        if time.monotonic() > deadline:
            raise ImportsNotFinished(f"CHC imports {import_ids} did not finish in time")
        time.sleep(poll_seconds)
