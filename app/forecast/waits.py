"""Waits (`app.forecast.queues.Episode`) derived from the events: a discharge patient's waits for
a pathway's service and a CHC case's waits in the assessor backlog.

Times are clinical times (`occurred_at`, the CtR log's `effective_at`), as every figure of the
dashboard counts them; an as-at estimate sees what had happened by then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.discharge.metrics import Spell
from app.forecast.queues import Episode

CHC_QUEUE = "chc"
# Queue order of a RAG colour (red first); a case never rated goes last.
RAG_RANK = {"red": 0, "amber": 1, "green": 2}
UNRATED = 3


def discharge_waits(
    spell: Spell, patient_ref: str | None, pathways: Sequence[str]
) -> list[Episode]:
    """The spell's waits for a pathway's service: not meeting the criteria to reside with that
    planned pathway. A wait ends with the start (the patient discharged) or when the patient
    meets the criteria again, changes pathway or leaves hospital another way."""
    facts = spell.facts
    changes: list[tuple[datetime, int, str, object]] = [
        (c.effective_at, 0, "ctr", c.meets) for c in facts.ctr_log
    ]
    changes += [(p.at, 1, "pathway", p.pathway) for p in facts.pathways if not p.actual]
    changes.sort(key=lambda c: (c[0], c[1]))
    left = facts.left_hospital_at
    ready, pathway = False, None
    out: list[Episode] = []
    open_since: datetime | None = None
    open_queue: str | None = None
    for at, _, kind, value in changes:
        if left is not None and at >= left:
            break
        if kind == "ctr":
            ready = not value
        else:
            pathway = value if isinstance(value, str) else None
        queue = pathway if ready and pathway in pathways else None
        if queue == open_queue:
            continue
        if open_queue is not None and open_since is not None:
            out.append(Episode(spell.case_id, open_queue, open_since, at, False, patient_ref))
        open_queue, open_since = queue, (at if queue is not None else None)
    if open_queue is not None and open_since is not None:
        started = left is not None and facts.discharged_at is not None
        out.append(Episode(spell.case_id, open_queue, open_since, left, started, patient_ref))
    return out


@dataclass(frozen=True)
class StateChange:
    seq: int
    to_state: str
    occurred_at: datetime


def chc_waits(
    case_id: int,
    patient_ref: str | None,
    changes: Iterable[StateChange],
    backlog_states: frozenset[str],
    final_states: frozenset[str],
) -> list[Episode]:
    """The case's waits in the backlog (the work queue's states). A wait "starts" the case when
    it leaves for the panel or a decision; leaving for a final state (withdrawn, died, closed)
    is not a start."""
    out: list[Episode] = []
    since: datetime | None = None
    for change in sorted(changes, key=lambda c: c.seq):
        inside = change.to_state in backlog_states
        if inside and since is None:
            since = change.occurred_at
        elif not inside and since is not None:
            left = max(change.occurred_at, since)  # a backdated exit never ends before it began
            started = change.to_state not in final_states
            out.append(Episode(case_id, CHC_QUEUE, since, left, started, patient_ref))
            since = None
    if since is not None:
        out.append(Episode(case_id, CHC_QUEUE, since, None, False, patient_ref))
    return out


@dataclass(frozen=True)
class Rating:
    rag: str
    rated_at: datetime


@dataclass(frozen=True)
class ChcOrder:
    """The work queue's order as at an instant (`app.chc.queue.ORDERING`): the RAG colour in
    force then (a manual override from when it was made), then the longest wait since referral,
    then the case number."""

    ratings: dict[int, list[Rating]]  # by case, oldest first
    overrides: dict[int, Rating]
    referred: dict[int, datetime]  # the work item's waiting_since

    def __call__(self, episode: Episode, at: datetime) -> tuple[object, ...]:
        return (
            self.rank_at(episode.case_id, at),
            self.referred.get(episode.case_id, episode.joined_at),
            episode.case_id,
        )

    def rank(self, episode: Episode, at: datetime) -> int:
        """The wait's priority rank at `at` (`app.forecast.queues.RankAt`)."""
        return self.rank_at(episode.case_id, at)

    def rank_at(self, case_id: int, at: datetime) -> int:
        override = self.overrides.get(case_id)
        if override is not None and override.rated_at <= at:
            return RAG_RANK.get(override.rag, UNRATED)
        rag = None
        for rating in self.ratings.get(case_id, ()):
            if rating.rated_at > at:
                break
            rag = rating.rag
        return UNRATED if rag is None else RAG_RANK.get(rag, UNRATED)

    def colour_at(self, case_id: int, at: datetime) -> str | None:
        rank = self.rank_at(case_id, at)
        return next((rag for rag, r in RAG_RANK.items() if r == rank), None)
