"""National delay-length buckets and the DRD delay summary.

Source: docs/domain.md §6.3 (NHS England monthly Discharge Ready Date publication, as wrangled in
``HFAnalyticsLab/Delayed_Discharges``). The buckets are 0 days, 1, 2-3, 4-6, 7-13, 14-20 and
21+. They are data, not branches, so a change in the publication is a one-line edit here.

Labels use an ASCII hyphen ("2-3"), because they end up as keys in exports and URLs; the
en dash in the published tables is typography, not part of a national code string.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DelayBucket:
    """A labelled, inclusive range of whole days; ``max_days`` is ``None`` for the open top."""

    label: str
    min_days: int
    max_days: int | None

    def contains(self, days: int) -> bool:
        return days >= self.min_days and (self.max_days is None or days <= self.max_days)


DELAY_BUCKETS: tuple[DelayBucket, ...] = (
    DelayBucket("0", 0, 0),
    DelayBucket("1", 1, 1),
    DelayBucket("2-3", 2, 3),
    DelayBucket("4-6", 4, 6),
    DelayBucket("7-13", 7, 13),
    DelayBucket("14-20", 14, 20),
    DelayBucket("21+", 21, None),
)

BUCKET_LABELS: tuple[str, ...] = tuple(bucket.label for bucket in DELAY_BUCKETS)
ZERO_DAY_LABEL = "0"


def _check_buckets(buckets: tuple[DelayBucket, ...]) -> None:
    # The table must tile 0..infinity with no gap or overlap, or some delay would be counted
    # twice or not at all. Checked once at import so a bad edit fails loudly.
    expected_min = 0
    for index, bucket in enumerate(buckets):
        last = index == len(buckets) - 1
        if bucket.min_days != expected_min:
            raise RuntimeError(f"delay bucket {bucket.label!r} should start at {expected_min}")
        if (bucket.max_days is None) != last:
            raise RuntimeError("only the last delay bucket may be open-ended")
        if bucket.max_days is not None:
            if bucket.max_days < bucket.min_days:
                raise RuntimeError(f"delay bucket {bucket.label!r} is empty")
            expected_min = bucket.max_days + 1


_check_buckets(DELAY_BUCKETS)


def bucket_for(days: int) -> str:
    """Label of the national bucket holding a delay of ``days`` whole days."""
    # bool is an int subclass; True would otherwise land in bucket "1" without complaint.
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError(f"days must be an int, got {type(days).__name__}")
    if days < 0:
        raise ValueError(f"a delay cannot be negative, got {days}")
    for bucket in DELAY_BUCKETS:
        if bucket.contains(days):
            return bucket.label
    raise AssertionError("unreachable: buckets are checked to cover every non-negative int")


@dataclass(frozen=True, slots=True)
class DelaySummary:
    """The DRD metrics of §6.3 for a set of discharges.

    Percentages are 0-100. Averages and percentages are ``None`` when their denominator is
    zero, rather than 0, so "no data" cannot be mistaken for "no delay".
    """

    discharges: int
    delayed: int
    delayed_bed_days: int
    bucket_counts: dict[str, int]
    bucket_bed_days: dict[str, int]

    @property
    def no_delay(self) -> int:
        return self.discharges - self.delayed

    @property
    def percent_no_delay(self) -> float | None:
        return _percent(self.no_delay, self.discharges)

    @property
    def percent_delayed(self) -> float | None:
        return _percent(self.delayed, self.discharges)

    @property
    def average_including_zero(self) -> float | None:
        """Average delay over all discharges, 0-day delays included (§6.3)."""
        return self.delayed_bed_days / self.discharges if self.discharges else None

    @property
    def average_excluding_zero(self) -> float | None:
        """Average delay over delayed discharges only (§6.3)."""
        return self.delayed_bed_days / self.delayed if self.delayed else None

    def percent_of_all(self, label: str) -> float | None:
        return _percent(self.bucket_counts[label], self.discharges)

    def percent_of_delayed(self, label: str) -> float | None:
        # The 0-day bucket is by definition not delayed, so it has no share of the delayed.
        if label == ZERO_DAY_LABEL:
            return None
        return _percent(self.bucket_counts[label], self.delayed)


def _percent(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def summarise_delays(delays: Iterable[int]) -> DelaySummary:
    """Summarise per-discharge delays (days from DRD to discharge, see ``days_delayed``).

    A delay of 0 is a discharge on the DRD: it counts as a discharge with no delay (§4.3 rule 6)
    and adds nothing to delayed bed days. Delayed bed days are the sum of the delays (§6.3
    worked example: 0, 0, 3, 9 gives 12).
    """
    counts = dict.fromkeys(BUCKET_LABELS, 0)
    bed_days = dict.fromkeys(BUCKET_LABELS, 0)
    discharges = 0
    for days in delays:
        label = bucket_for(days)
        counts[label] += 1
        bed_days[label] += days
        discharges += 1
    return DelaySummary(
        discharges=discharges,
        delayed=discharges - counts[ZERO_DAY_LABEL],
        delayed_bed_days=sum(bed_days.values()),
        bucket_counts=counts,
        bucket_bed_days=bed_days,
    )
