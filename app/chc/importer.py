"""Backlog import: several organisations' lists into one working list (docs/domain.md §7.10).

An upload becomes an import job. The request reads the file as a stream, three times over the
uploaded copy and never whole: its hash (the same file for the same source is imported once:
the first job answers again and nothing is written) and encoding; then every record, so that a
file that cannot be read (encoding, CSV, headings, NUL bytes) is refused at once with a 4xx and
writes nothing; then it is spooled into the database with the queued job, in one transaction.
A runner (`app.chc.import_runner`) places the rows in batches, each committed with the job's
checkpoint. Each accepted row is kept as provenance and joins a case: a new case opened through
the engine (backdated to the list's referral date, with a reason), or an open case of the same
person (matched on NHS number; rows without one on name, date of birth and postcode). A merged
row fills blank facts with one `update_details` event; values that disagree go to the
reconciliation queue. Bad rows are kept with every reason. A source row is imported only once
(source list + record id), so importing a list again changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import Actor
from app.chc.config import ChcConfig
from app.chc.csvread import CHUNK_BYTES, ListFileError, detect_encoding, inspect_list
from app.chc.errors import IMPORT_ROLES, READ_ROLES, ImportFileInvalid, NotChcCase, require_role
from app.chc.merge import KINDS
from app.chc.repository import ChcRepository
from app.chc.schemas import ImportSummary
from app.db import UnitOfWork
from app.errors import ValidationFailed
from app.models import ChcImport

SOURCE_NAME = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,63}$")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# The uploaded file is kept in the database in pieces of this size until its job is done.
SPOOL_CHUNK_BYTES = 1024 * 1024
# The lists of a report, in the order it gives them; blank rows are kept the same way.
REPORT_LISTS = (*KINDS, "blank_rows")
COUNTED = ("accepted", "merged", "conflicts", "rejected", "unchanged")
# Report parts read per query while a report is streamed.
PARTS_PAGE = 20


@dataclass(frozen=True)
class Submitted:
    """202 for a new job; 200 (`already_imported`) for the job of the same file."""

    status_code: int
    import_id: int
    body: dict[str, Any]


def canonical_source(name: str) -> str:
    """'Sefton MBC' -> 'SEFTON-MBC': one spelling per source list."""
    text = "-".join(name.strip().upper().split())
    if not SOURCE_NAME.match(text):
        raise ValidationFailed(
            "source must be a list name such as MLCSU, LSCFT or Sefton MBC (letters, digits, "
            "spaces, dots, hyphens; at most 64 characters)",
            errors=[{"field": "source", "problem": "not a valid source list name"}],
        )
    return text


def submit(
    session: Session,
    *,
    cfg: ChcConfig,
    actor: Actor,
    source: str,
    filename: str,
    file: IO[bytes],
    declared_encoding: str | None,
    now: datetime,
) -> Submitted:
    """Check the upload and queue its job (or answer with the job of the same file)."""
    require_role(actor, IMPORT_ROLES, "importing a CHC backlog list")
    source = canonical_source(source)
    try:
        file.seek(0)
        digest, encoding = _hash_and_encoding(file, declared_encoding)
    except ListFileError as exc:
        raise ImportFileInvalid(str(exc), source=source, filename=filename, **exc.extra) from None
    repo = ChcRepository(session)
    with UnitOfWork(session):
        earlier = repo.find_import(actor.organisation, source, digest)
    if earlier is not None:
        return _again(earlier)
    try:
        file.seek(0)
        shape = inspect_list(
            file.read, encoding, source, cfg.sources, declared=declared_encoding is not None
        )
    except ListFileError as exc:
        raise ImportFileInvalid(str(exc), source=source, filename=filename, **exc.extra) from None
    with UnitOfWork(session):
        job = ChcImport(
            organisation=actor.organisation,
            source_list=source,
            filename=filename[:255],
            sha256=digest,
            encoding=encoding,
            rows_total=shape.rows_total,
            accepted=0,
            merged=0,
            conflicts=0,
            rejected=0,
            unchanged=0,
            # The report's heading; its lists are kept in parts as the batches run.
            report={"columns": shape.columns, "ignored_columns": shape.ignored_columns},
            imported_by_id=actor.user_id,
            imported_by=actor.username,
            imported_at=now,
            state="queued",
            next_row=2,
            rows_read=0,
            attempts=0,
            error=None,
        )
        if not repo.try_add_import(job):  # the same file, uploaded concurrently, won
            earlier = repo.find_import(actor.organisation, source, digest)
            assert earlier is not None  # noqa: S101 - the unique key named this row
            return _again(earlier)
        file.seek(0)
        seq = 0
        while piece := file.read(SPOOL_CHUNK_BYTES):
            repo.add_chunk(job.id, seq, piece)
            seq += 1
    return Submitted(202, job.id, job_status(job))


def _hash_and_encoding(file: IO[bytes], declared: str | None) -> tuple[str, str]:
    digest = hashlib.sha256()
    size = 0

    def chunks() -> Iterator[bytes]:
        nonlocal size
        while piece := file.read(CHUNK_BYTES):
            size += len(piece)
            if size > MAX_UPLOAD_BYTES:
                raise ListFileError(
                    f"the file is larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB",
                    max_bytes=MAX_UPLOAD_BYTES,
                )
            digest.update(piece)
            yield piece

    pieces = chunks()
    encoding = detect_encoding(pieces, declared)
    for _ in pieces:  # a declared encoding is decided at once; the hash needs every byte
        pass
    return digest.hexdigest(), encoding


def _again(job: ChcImport) -> Submitted:
    return Submitted(200, job.id, {**job_status(job), "already_imported": True})


def job_status(job: ChcImport) -> dict[str, Any]:
    """What a client polls: the job's state, progress and counts (small; no row lists)."""
    counts = {name: getattr(job, name) for name in COUNTED}
    return {
        "id": job.id,
        "import_id": job.id,
        "state": job.state,
        "source": job.source_list,
        "filename": job.filename,
        "sha256": job.sha256,
        "encoding": job.encoding,
        "imported_by": job.imported_by,
        "imported_at": job.imported_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "already_imported": False,
        "rows_total": job.rows_total,
        "progress": {"rows_read": job.rows_read, "rows_total": job.rows_total},
        "counts": counts,
        "error": job.error,
    }


def get_job(session: Session, *, actor: Actor, import_id: int) -> ChcImport:
    require_role(actor, READ_ROLES, "reading imports")
    with UnitOfWork(session):
        row = ChcRepository(session).get_import(import_id, actor.organisation)
    if row is None:
        raise NotChcCase(f"import {import_id} not found")
    return row


def report_json(sessions: sessionmaker[Session], job: ChcImport) -> Iterator[bytes]:
    """The job as JSON and, once it is done, its whole report (every list with row numbers
    and reasons), streamed: the lists are read a few batches at a time, never held whole."""
    head = job_status(job)
    if job.state != "done":
        yield json.dumps(head).encode()
        return
    report = dict(job.report)
    if "accepted" in report:  # imported before import jobs (migration 0011): kept whole
        yield json.dumps({**report, **head}).encode()
        return
    head |= {
        "columns": report.get("columns", {}),
        "ignored_columns": report.get("ignored_columns", []),
    }
    yield json.dumps(head)[:-1].encode()
    for kind in REPORT_LISTS:
        yield f', "{kind}": ['.encode()
        after, first = 0, True
        while True:
            with sessions() as session:
                page = ChcRepository(session).report_parts(
                    job.id, kind, after_row=after, limit=PARTS_PAGE
                )
            # One piece per page: each piece is a hop to the event loop, each entry would be many.
            pieces = [json.dumps(entry) for _, entries in page for entry in entries]
            if pieces:
                yield (("" if first else ", ") + ", ".join(pieces)).encode()
                first = False
            if len(page) < PARTS_PAGE:
                break
            after = page[-1][0]
        yield b"]"
    yield b"}"


def iter_report(sessions: sessionmaker[Session], import_id: int, kind: str) -> Iterator[Any]:
    """One list of a report, entry by entry (the command line prints it so)."""
    after = 0
    while True:
        with sessions() as session:
            page = ChcRepository(session).report_parts(
                import_id, kind, after_row=after, limit=PARTS_PAGE
            )
        for _, entries in page:
            yield from entries
        if len(page) < PARTS_PAGE:
            return
        after = page[-1][0]


def list_imports(session: Session, *, actor: Actor, limit: int) -> list[ImportSummary]:
    require_role(actor, READ_ROLES, "reading imports")
    with UnitOfWork(session):
        rows = ChcRepository(session).list_imports(actor.organisation, limit)
    names: tuple[str, ...] = ("id", "state", "filename", "sha256", "encoding", "rows_total")
    names += (
        "rows_read",
        *COUNTED,
        "imported_by",
        "imported_at",
        "finished_at",
    )
    return [ImportSummary(source=r.source_list, **{n: getattr(r, n) for n in names}) for r in rows]
