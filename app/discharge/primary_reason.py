"""Primary delay reason: one code per delayed patient per reporting snapshot.

Source: docs/domain.md §5.6. The national return takes **one** reason per delayed patient, but a
delay often has several causes at once, so HomeFirst records one time-bounded period per cause
and projects a single primary reason from them. Figures are derived, never typed in
(ARCHITECTURE.md §11 item 17).

The rule (the one §5.6 suggests, made total and deterministic):

1. Only periods open at the snapshot instant ``as_at`` take part: ``started_at <= as_at`` and
   (``ended_at`` is ``None`` or ``as_at < ended_at``). The snapshot time of day is the caller's
   choice; this module does not guess the sitrep's.
2. If any open period was explicitly marked primary by a user, only marked periods compete.
   (Two marked periods can happen when two organisations each mark their own; they are then
   ranked by step 3 instead of one silently overriding the other.)
3. Candidates are ranked by, in order:
   a. family precedence: position of ``family`` in the configured precedence list. Families
      not in the list, and codes without a family (the 2022 and 2023 lists have none), rank
      after every listed family and level with each other;
   b. earliest ``started_at`` (the longest-standing cause in that family);
   c. earliest ``recorded_at``;
   d. ``code``, by plain string order;
   e. input order, so even identical periods give a reproducible answer.
   The first is the primary reason.

The default precedence is the example §5.6 gives, Capacity before Interface process before
Hospital process. It is [Suggested], not national: where "Care transfer hub process",
"Wellbeing concerns" and the funding family (name UNVERIFIED, §13 U5) should sit is a local
decision, so pass ``family_precedence`` from configuration. The result carries every ranked
candidate so the choice behind a submitted figure can be logged and explained (§5.6).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

DEFAULT_FAMILY_PRECEDENCE: tuple[str, ...] = ("Capacity", "Interface process", "Hospital process")


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class DelayPeriod:
    """One cause of delay, open from ``started_at`` until ``ended_at`` (exclusive) or for now.

    ``family`` is the family named in the code list (for example ``"Capacity"``), or ``None``
    for lists without families.
    """

    code: str
    family: str | None
    started_at: datetime
    ended_at: datetime | None
    recorded_at: datetime
    marked_primary: bool = False

    def __post_init__(self) -> None:
        _require_aware(self.started_at, "started_at")
        _require_aware(self.recorded_at, "recorded_at")
        if self.ended_at is not None:
            _require_aware(self.ended_at, "ended_at")
            if self.ended_at < self.started_at:
                raise ValueError(f"delay period {self.code!r} ends before it starts")

    def is_open_at(self, at: datetime) -> bool:
        return self.started_at <= at and (self.ended_at is None or at < self.ended_at)


@dataclass(frozen=True, slots=True)
class PrimaryChoice:
    """The chosen period, which step decided it, and every open candidate in ranked order."""

    period: DelayPeriod
    rule: Literal["marked_primary", "ranked"]
    candidates: tuple[DelayPeriod, ...]

    @property
    def code(self) -> str:
        return self.period.code


def choose_primary_reason(
    periods: Iterable[DelayPeriod],
    *,
    as_at: datetime,
    family_precedence: Sequence[str] = DEFAULT_FAMILY_PRECEDENCE,
) -> PrimaryChoice | None:
    """Pick the primary delay reason among ``periods`` open at ``as_at``; ``None`` if none is."""
    _require_aware(as_at, "as_at")
    if len(set(family_precedence)) != len(family_precedence):
        raise ValueError("family_precedence lists a family more than once")
    rank_of = {family: rank for rank, family in enumerate(family_precedence)}
    unlisted_rank = len(family_precedence)

    open_periods = [
        (index, period) for index, period in enumerate(periods) if period.is_open_at(as_at)
    ]
    if not open_periods:
        return None

    def sort_key(item: tuple[int, DelayPeriod]) -> tuple[int, int, datetime, datetime, str, int]:
        index, period = item
        family_rank = (
            unlisted_rank if period.family is None else rank_of.get(period.family, unlisted_rank)
        )
        return (
            0 if period.marked_primary else 1,
            family_rank,
            period.started_at,
            period.recorded_at,
            period.code,
            index,
        )

    ranked = tuple(period for _, period in sorted(open_periods, key=sort_key))
    winner = ranked[0]
    return PrimaryChoice(
        period=winner,
        rule="marked_primary" if winner.marked_primary else "ranked",
        candidates=ranked,
    )
