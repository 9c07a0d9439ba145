"""Keeping each CHC case's place on the single working list up to date (docs/domain.md §7.10,
§7.11).

`rate_one` recomputes a case's cohort and RAG from its facts and the time. It writes only what
changed: the work item (compare-and-set on `rating_seq`, so concurrent refreshes never double up)
and, when the colour, the fired rules or the cohort change, one row of rating history. The work
item read model (`app.chc.readmodel`) calls it after every CHC state change, in the same
transaction; `refresh` re-rates a whole list for the passing of time (the scheduler once a London
day, the first claim of a day, and `homefirst chc refresh`). Reads never write.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from app.chc.config import COLOUR_RANK, ChcConfig
from app.chc.rag import CaseFacts, assign_cohort, rate
from app.chc.repository import ChcRepository
from app.engine.engine import Engine
from app.models import Case, ChcRagRating, ChcWorkItem
from app.timeutil import LONDON

WORKLIST_TAG = "chc-worklist"


def worklist_states(engine: Engine) -> tuple[str, ...]:
    """States tagged `chc-worklist` in any loaded version of the CHC pathway."""
    names: set[str] = set()
    for version in engine.catalogue.versions("chc"):
        loaded = engine.catalogue.get("chc", version)
        if loaded is not None:
            names |= {s.name for s in loaded.spec.states if WORKLIST_TAG in s.tags}
    return tuple(sorted(names))


def facts_of(case: Case) -> CaseFacts:
    return CaseFacts(case.state, dict(case.attributes), case.opened_at)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)


@dataclass
class RefreshReport:
    examined: int = 0
    created: int = 0
    updated: int = 0
    rerated: int = 0
    retired: int = 0  # items of closed cases found not retired (a whole-list refresh only)


def refresh(
    repo: ChcRepository,
    cfg: ChcConfig,
    *,
    organisation: str | None,
    now: datetime,
    case_ids: Iterable[int] | None = None,
) -> RefreshReport:
    """Re-rate open CHC cases (an organisation's, or the given ones) as at `now`."""
    report = RefreshReport()
    repo.session.flush()  # pending changes must be visible here and survive the expiry below
    for case, item in _cases(repo, organisation, case_ids):
        rate_one(repo, cfg, case, item, now, report)
    if case_ids is None:
        report.retired = repo.retire_closed(organisation)
    if report.updated or report.retired:
        # The compare-and-set ran as plain UPDATEs: reload rows this session already holds.
        repo.session.flush()
        repo.session.expire_all()
    return report


def rate_one(
    repo: ChcRepository,
    cfg: ChcConfig,
    case: Case,
    item: Any,  # the work item, a row of its rating columns, or None when it has none
    now: datetime,
    report: RefreshReport,
) -> None:
    """Write one open case's work item as its facts and `now` rate it (only what changed)."""
    report.examined += 1
    values = computed(case, cfg, now)
    if item is None:
        created = ChcWorkItem(**_new_item(case, values))
        if repo.try_add_work_item(created):
            repo.add(_history(case.id, values))
            report.created += 1
        return
    if all(getattr(item, k) == v for k, v in values.items() if k != "rated_at"):
        return
    effective = item.override_rag or values["computed_rag"]
    changed = {**values, "rag": effective, "rag_rank": COLOUR_RANK[effective]}
    if repo.update_rating(case.id, item.rating_seq, changed):
        report.updated += 1
        if _material(item, values):
            repo.add(_history(case.id, values))
            report.rerated += 1


def rate_opened(
    repo: ChcRepository, cfg: ChcConfig, opened: Iterable[tuple[Case, datetime]]
) -> int:
    """The first work item and rating of cases just opened together (`CaseWriter.open_batch`),
    as `rate_one` writes them, with one statement per table. A case just opened has no item
    yet, so there is nothing to compare and set."""
    items: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    for case, now in opened:
        values = computed(case, cfg, now)
        items.append(_new_item(case, values))
        ratings.append(_history_row(case.id, values))
    repo.add_work_items(items, ratings)
    return len(items)


def _new_item(case: Case, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "organisation": case.organisation,
        "rating_seq": 1,
        "rag": values["computed_rag"],
        "rag_rank": COLOUR_RANK[values["computed_rag"]],
        "override_rag": None,
        "override_reason": None,
        "override_by": None,
        "override_at": None,
        "claimed_by_id": None,
        "claimed_by": None,
        "claimed_at": None,
        "claim_expires_at": None,
        **values,
    }


# A whole organisation is read this many cases at a time: the session holds its objects only
# weakly, so memory follows the chunk, not the list (100k cases took ~800 MB read at once).
CHUNK = 2000


def _cases(
    repo: ChcRepository, organisation: str | None, case_ids: Iterable[int] | None
) -> Iterator[tuple[Case, ChcWorkItem | None]]:
    if case_ids is not None:
        yield from repo.chc_cases_for_refresh(organisation, case_ids)
        return
    after = 0
    while True:
        rows = repo.chc_cases_for_refresh(organisation, None, after=after, limit=CHUNK)
        yield from rows
        if len(rows) < CHUNK:
            return
        after = rows[-1][0].id


def computed(case: Case, cfg: ChcConfig, now: datetime) -> dict[str, Any]:
    facts = facts_of(case)
    rating = rate(facts, cfg.rag, now=now)
    cohort = assign_cohort(facts, cfg.local)
    return {
        "cohort": cohort.key,
        "responsible_body": cohort.responsible_organisation,
        "waiting_since": start_of_day(facts.referral_date),
        "computed_rag": rating.colour,
        "rule_ids": list(rating.rule_ids),
        "reasons": [r.as_dict() for r in rating.reasons],
        "ruleset_version": rating.ruleset_version,
        "rated_at": now,
    }


def _material(item: ChcWorkItem, values: dict[str, Any]) -> bool:
    """A change worth a history row: colour, fired rules, rule set or cohort (not day counts)."""
    return any(
        getattr(item, k) != values[k]
        for k in ("computed_rag", "rule_ids", "ruleset_version", "cohort")
    )


def _history(case_id: int, values: dict[str, Any]) -> ChcRagRating:
    return ChcRagRating(**_history_row(case_id, values))


def _history_row(case_id: int, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "rag": values["computed_rag"],
        "rule_ids": values["rule_ids"],
        "reasons": values["reasons"],
        "ruleset_version": values["ruleset_version"],
        "cohort": values["cohort"],
        "rated_at": values["rated_at"],
    }
