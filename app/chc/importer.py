"""Backlog import: several organisations' lists into one working list (docs/domain.md §7.10).

Each accepted row is kept as provenance and joins a case: a new case opened through the engine
(backdated to the list's referral date, with a reason), or an open case of the same person
(matched on NHS number; rows without one on name, date of birth and postcode). A merged row
fills blank facts with one `update_details` event; values that disagree go to the
reconciliation queue. Bad rows are kept with every reason. The same file for the same source
is imported once (file hash), and a source row only once (source list + record id), so a
second import changes nothing. The whole file is one transaction: all of it, or none of it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.cases.transition import CaseWriter
from app.chc.config import ChcConfig
from app.chc.csvread import ListFileError, parse_list
from app.chc.errors import IMPORT_ROLES, READ_ROLES, ImportFileInvalid, NotChcCase, require_role
from app.chc.merge import ListMerger
from app.chc.repository import ChcRepository
from app.chc.schemas import ImportSummary
from app.db import UnitOfWork
from app.errors import ValidationFailed
from app.models import ChcImport
from app.timeutil import LONDON

SOURCE_NAME = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,63}$")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportOutcome:
    status_code: int
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


def import_list(
    session: Session,
    *,
    writer: CaseWriter,
    cfg: ChcConfig,
    actor: Actor,
    source: str,
    filename: str,
    data: bytes,
    now: datetime,
    progress: Progress | None = None,
) -> ImportOutcome:
    require_role(actor, IMPORT_ROLES, "importing a CHC backlog list")
    source = canonical_source(source)
    digest = hashlib.sha256(data).hexdigest()
    repo = ChcRepository(session)
    with UnitOfWork(session):
        earlier = repo.find_import(actor.organisation, source, digest)
    if earlier is not None:
        return _replay(earlier)
    try:
        parsed = parse_list(data, source, cfg.sources, today=now.astimezone(LONDON).date())
    except ListFileError as exc:
        raise ImportFileInvalid(str(exc), source=source, filename=filename, **exc.extra) from None
    with UnitOfWork(session):
        repo.lock_organisation(actor.organisation, "import")
        batch = ChcImport(
            organisation=actor.organisation,
            source_list=source,
            filename=filename[:255],
            sha256=digest,
            encoding=parsed.encoding,
            rows_total=len(parsed.rows),
            accepted=0,
            merged=0,
            conflicts=0,
            rejected=0,
            unchanged=0,
            report={},
            imported_by_id=actor.user_id,
            imported_by=actor.username,
            imported_at=now,
        )
        if not repo.try_add_import(batch):  # the same file, imported concurrently, won
            earlier = repo.find_import(actor.organisation, source, digest)
            assert earlier is not None  # noqa: S101 - the unique key named this row
            return _replay(earlier)
        run = ListMerger(session, repo, writer, actor, batch, now)
        for done, row in enumerate(parsed.rows, start=1):
            run.row(row)
            if progress is not None:
                progress(done, len(parsed.rows))
        body = run.report(parsed.columns, parsed.ignored_columns, parsed.blank_rows)
        for name in ("accepted", "merged", "conflicts", "rejected", "unchanged"):
            setattr(batch, name, len(run.lists[name]))
        batch.report = body
    return ImportOutcome(201, body)


def list_imports(session: Session, *, actor: Actor, limit: int) -> list[ImportSummary]:
    require_role(actor, READ_ROLES, "reading imports")
    with UnitOfWork(session):
        rows = ChcRepository(session).list_imports(actor.organisation, limit)
    names: tuple[str, ...] = ("id", "filename", "sha256", "encoding", "rows_total")
    names += (
        "accepted",
        "merged",
        "conflicts",
        "rejected",
        "unchanged",
        "imported_by",
        "imported_at",
    )
    return [ImportSummary(source=r.source_list, **{n: getattr(r, n) for n in names}) for r in rows]


def get_report(session: Session, *, actor: Actor, import_id: int) -> dict[str, Any]:
    require_role(actor, READ_ROLES, "reading imports")
    with UnitOfWork(session):
        row = ChcRepository(session).get_import(import_id, actor.organisation)
    if row is None:
        raise NotChcCase(f"import {import_id} not found")
    return dict(row.report)


def _replay(batch: ChcImport) -> ImportOutcome:
    body = {**batch.report, "already_imported": True}
    return ImportOutcome(200, body)
