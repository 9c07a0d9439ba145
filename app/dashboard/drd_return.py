"""The monthly Discharge Ready Date return, in the shape of NHS England's published time series.

One row per provider (the caller's organisation) and month, with the England time series'
column names exactly (PUBLISHED-RULES.md §2.3). The cohort is the DRD measures' (rows 12 and
14): discharges in the month of stays of one night or more with a discharge-ready date
(`app.discharge.drd.drd_cohort`); the delay is days from the DRD to the date of discharge
(DoD). The publication's own columns about providers ("# of providers with acceptable data",
"% of providers with acceptable data", "Data Source") describe NHS England's aggregation, not a
provider's data, and are left out. Local counts of the discharges outside the cohort are in
the JSON only, under names of their own.

Figures are derived from the events with clinical time up to the end of the month (or now,
for the running month), as the daily figures of a finished day are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.dashboard.context import MetricsContext
from app.dashboard.service import derived_spells
from app.discharge.buckets import BUCKET_LABELS, ZERO_DAY_LABEL, DelaySummary, summarise_delays
from app.discharge.drd import OUTSIDE_COHORT, drd_cohort
from app.errors import ValidationFailed
from app.timeutil import day_bounds, london_date

# The publication's wording for each bucket, in the order of `BUCKET_LABELS`.
BUCKET_NAMES = {
    "0": "No delay",
    "1": "1 day delay",
    "2-3": "2-3 day delay",
    "4-6": "4-6 day delay",
    "7-13": "7-13 day delay",
    "14-20": "14-20 day delay",
    "21+": "21+ day delay",
}
WITHIN = {
    "1": "1 day",
    "2-3": "2-3 days",
    "4-6": "4-6 days",
    "7-13": "7-13 days",
    "14-20": "14-20 days",
    "21+": "21 days or more",
}
DELAYED_LABELS = tuple(label for label in BUCKET_LABELS if label != ZERO_DAY_LABEL)
COLUMNS = [
    "Month",
    "Organisation",
    "Total # of patients discharged",
    "Total bed days lost to DD",
    "DoD is same as DRD (%)",
    "DoD is 1+ days after DRD (%)",
    *(f"{BUCKET_NAMES[b]} between DoD & DRD (#)" for b in BUCKET_LABELS),
    *(f"{BUCKET_NAMES[b]} between DoD & DRD (%)" for b in BUCKET_LABELS),
    *(f"Patients delayed but discharged within {WITHIN[b]} (%)" for b in DELAYED_LABELS),
    *(
        f"Total bed days after DRD for patients discharged within {WITHIN[b]}"
        for b in DELAYED_LABELS
    ),
    "Average days from DRD to DoD (inc 0-day delays)",
    "Average days from DRD to DoD (exc 0-day delays)",
]


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        try:
            first = date.fromisoformat(f"{text}-01")
        except ValueError:
            raise ValidationFailed(f"month {text!r} is not YYYY-MM") from None
        return cls(first.year, first.month)

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        following = (self.first + timedelta(days=32)).replace(day=1)
        return following - timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def monthly_return(
    session: Session,
    *,
    month: Month,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    ward: str | None = None,
) -> dict[str, Any]:
    """The month's DRD return for the organisation: `row` (column -> value, as the CSV) and
    local counts of the discharges outside the DRD cohort; with `ward`, of the discharges from
    that ward (local: the national return is per provider)."""
    if month.first > london_date(now):
        raise ValidationFailed(f"{month} has not started: no figures yet")
    start = day_bounds(month.first)[0]
    end = min(day_bounds(month.last)[1] - timedelta(microseconds=1), now)
    delays: list[int] = []
    outside = dict.fromkeys(OUTSIDE_COHORT, 0)
    discharges = 0
    for _, spell, _ in derived_spells(
        session,
        start=start,
        snapshot=end,
        site=None,
        organisation=organisation,
        ctx=ctx,
        ward=ward,
    ):
        left = spell.facts.discharged_at
        if left is None or not start <= left <= end:
            continue
        discharges += 1
        place = drd_cohort(
            london_date(spell.admitted_at), london_date(left), spell.facts.drd.discharge_ready_date
        )
        if place.delay_days is None:
            outside[place.outside_because or ""] += 1
        else:
            delays.append(place.delay_days)
    return {
        "month": str(month),
        "organisation": organisation,
        "ward": ward,
        "as_at": end.isoformat(),
        "final": end < now,
        "row": dict(zip(COLUMNS, _row(month, organisation, summarise_delays(delays)), strict=True)),
        "local": {
            "discharges_all": discharges,
            "outside_drd_cohort": outside,
        },
    }


def _row(month: Month, organisation: str, s: DelaySummary) -> list[Any]:
    return [
        str(month),
        organisation,
        s.discharges,
        s.delayed_bed_days,
        _r(s.percent_no_delay),
        _r(s.percent_delayed),
        *(s.bucket_counts[b] for b in BUCKET_LABELS),
        *(_r(s.percent_of_all(b)) for b in BUCKET_LABELS),
        *(_r(s.percent_of_delayed(b)) for b in DELAYED_LABELS),
        *(s.bucket_bed_days[b] for b in DELAYED_LABELS),
        _r(s.average_including_zero),
        _r(s.average_excluding_zero),
    ]


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
