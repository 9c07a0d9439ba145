"""Monthly partner statements: one responsible organisation's delayed bed days and cost of a
month, for the cases the publishing organisation owns or shares, frozen when published.

`publish` stores version 1. Reading statements (`read_statements`) derives each one's month
again from the events: where the figures differ from the version in force (late entries with
an earlier clinical time), a restatement is stored beside the original as the next version,
with its differences from the original, as `app.dashboard.restatements` does for finished
days. Nothing stored changes. A statement made under older definitions is not restated (its
figures would differ for that reason alone). The publisher reads its statements; so does the
responsible organisation, when its code in ledger.yaml is its organisation code.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.dashboard.context import MetricsContext
from app.dashboard.drd_return import Month
from app.dashboard.service import differences
from app.db import UnitOfWork
from app.errors import Conflict, ValidationFailed
from app.ledger.config import LedgerConfig
from app.ledger.derive import Share
from app.ledger.repository import StatementRepository
from app.ledger.service import DEFINITIONS, ledger
from app.ledger.views import cost_of, days, days_of, money, reason_label, tariff_json, totals
from app.models import LedgerStatement
from app.timeutil import london_date

RESTATED_BY = "system"
# Who may publish a partner statement (a write: its roles named in code, checked on the route
# and the screen).
PUBLISH_ROLES = ("manager",)
MAX_ROWS = 500


def compute(
    session: Session,
    *,
    organisation: str,
    responsible: str,
    month: Month,
    now: datetime,
    ctx: MetricsContext,
    config: LedgerConfig,
) -> tuple[dict[str, Any], datetime]:
    """The statement's figures as the events give them now, and the instant they are as at."""
    found = ledger(
        session,
        first=month.first,
        last=month.last,
        organisation=organisation,
        now=now,
        ctx=ctx,
        config=config,
    )
    mine = [s for s in found.shares if s.organisation == responsible]
    groups: dict[tuple[str, str, str], list[Share]] = {}
    for s in mine:
        groups.setdefault((s.reason, s.pathway, s.tariff or ""), []).append(s)
    rows = [
        {
            "reason": reason,
            "label": reason_label(found, reason),
            "family": shares[0].family,
            "pathway": pathway,
            "tariff": tariff or None,
            "bed_days": days(days_of(shares)),
            "cost": money(cost_of(shares)),
        }
        for (reason, pathway, tariff), shares in sorted(groups.items())
    ]
    payload = {
        "responsible": responsible,
        "responsible_label": config.label_of(responsible),
        "month": str(month),
        "basis": found.basis,
        "attribution": config.attribution,
        "currency": "GBP",
        "totals": totals(mine),
        "rows": rows,
        "tariffs": [tariff_json(config, v) for v in sorted({s.tariff for s in mine if s.tariff})],
    }
    return json.loads(json.dumps(payload)), found.as_at


def publish(
    session: Session,
    *,
    organisation: str,
    username: str,
    responsible: str,
    month: Month,
    now: datetime,
    ctx: MetricsContext,
    config: LedgerConfig,
) -> LedgerStatement:
    if responsible not in {o.code for o in config.organisations}:
        raise ValidationFailed(f"{responsible!r} is not a responsible organisation of ledger.yaml")
    if month.last >= london_date(now):
        raise ValidationFailed(f"{month} is not over: publish a month once it has ended")
    repo = StatementRepository(session)
    with UnitOfWork(session):
        if repo.versions(organisation, responsible, str(month)):
            raise Conflict(
                f"the statement for {responsible} of {month} is already published; late "
                "entries show as restatements beside it"
            )
        payload, as_at = compute(
            session,
            organisation=organisation,
            responsible=responsible,
            month=month,
            now=now,
            ctx=ctx,
            config=config,
        )
        row = LedgerStatement(
            organisation=organisation,
            responsible=responsible,
            month=str(month),
            version=1,
            recorded_at=now,
            recorded_by=username,
            as_at=as_at,
            definitions=DEFINITIONS,
            payload=payload,
            differences=[],
        )
        try:
            repo.add(row)
        except IntegrityError:
            raise Conflict(
                f"the statement for {responsible} of {month} is already published"
            ) from None
    return row


def read_statements(
    session: Session,
    *,
    reader: str,
    now: datetime,
    ctx: MetricsContext,
    config: LedgerConfig,
    month: Month | None = None,
    responsible: str | None = None,
) -> list[dict[str, Any]]:
    """The statements `reader` may read, each with its restatement (stored now if the events
    give different figures than the version in force)."""
    repo = StatementRepository(session)
    groups: dict[tuple[str, str, str], list[LedgerStatement]] = {}
    with UnitOfWork(session):
        rows = repo.visible(reader, str(month) if month else None, responsible, MAX_ROWS)
        for row in rows:
            groups.setdefault((row.organisation, row.responsible, row.month), []).append(row)
        for versions in groups.values():
            fresh = _restate(session, repo, versions, now, ctx, config)
            if fresh is not None:
                versions.append(fresh)
    return [_shown(versions) for versions in groups.values()]


def restate_all(
    session: Session, *, now: datetime, ctx: MetricsContext, config: LedgerConfig
) -> tuple[int, int]:
    """Derive every published statement's month again and store the restatements that differ
    (`homefirst ledger restate`, e.g. nightly); returns (statements checked, restated)."""
    repo = StatementRepository(session)
    checked = restated = 0
    with UnitOfWork(session):
        groups: dict[tuple[str, str, str], list[LedgerStatement]] = {}
        for row in repo.every():
            groups.setdefault((row.organisation, row.responsible, row.month), []).append(row)
        for versions in groups.values():
            checked += 1
            restated += _restate(session, repo, versions, now, ctx, config) is not None
    return checked, restated


def _restate(
    session: Session,
    repo: StatementRepository,
    versions: list[LedgerStatement],
    now: datetime,
    ctx: MetricsContext,
    config: LedgerConfig,
) -> LedgerStatement | None:
    original, latest = versions[0], versions[-1]
    if latest.definitions != DEFINITIONS:
        return None
    payload, as_at = compute(
        session,
        organisation=original.organisation,
        responsible=original.responsible,
        month=Month.parse(original.month),
        now=now,
        ctx=ctx,
        config=config,
    )
    if not differences(latest.payload, payload):
        return None
    row = LedgerStatement(
        organisation=original.organisation,
        responsible=original.responsible,
        month=original.month,
        version=latest.version + 1,
        recorded_at=now,
        recorded_by=RESTATED_BY,
        as_at=as_at,
        definitions=DEFINITIONS,
        payload=payload,
        differences=differences(original.payload, payload),
    )
    try:
        with session.begin_nested():
            repo.add(row)
    except IntegrityError:
        return None  # another reader stored this restatement first
    return row


def _shown(versions: list[LedgerStatement]) -> dict[str, Any]:
    original, latest = versions[0], versions[-1]
    return {
        "organisation": original.organisation,
        "responsible": original.responsible,
        "month": original.month,
        "published_at": original.recorded_at.isoformat(),
        "published_by": original.recorded_by,
        "as_at": original.as_at.isoformat(),
        "definitions": original.definitions,
        "as_published": original.payload,
        "restatement": None
        if latest is original
        else {
            "version": latest.version,
            "restated_at": latest.recorded_at.isoformat(),
            "as_at": latest.as_at.isoformat(),
            "differences": latest.differences,
            "figures": latest.payload,
        },
    }
