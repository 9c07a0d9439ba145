"""The what-if model (app/whatif/model.py, compare.py): determinism for a seed, the direction
and size of a capacity change worked out from queueing arithmetic, and exact bed-day counts
for systems small enough to count by hand."""

from __future__ import annotations

import json
from dataclasses import replace

from app.whatif.compare import compare, quantile
from app.whatif.model import (
    BedPathway,
    Chc,
    Scenario,
    StartsPathway,
    System,
    apply,
    poisson,
    scaled,
    simulate,
)

WEEKS = 12
DAYS = WEEKS * 7
NOTHING = StartsPathway(0, 0)
NO_BEDS = BedPathway(0, 0, 10)
NO_CHC = Chc(0, 0, 0)


def p1_system(arrivals: float, starts: float, waiting: int = 20) -> System:
    """Only pathway 1: `arrivals` a day, `starts` a day, `waiting` patients waiting 2 days."""
    return System(
        p1=StartsPathway(arrivals, starts, (2.0,) * waiting),
        p2=NO_BEDS,
        p3=NOTHING,
        chc=NO_CHC,
        tariff=(100.0,) * DAYS,
    )


def as_bytes(result: dict) -> bytes:
    return json.dumps(result, sort_keys=True).encode()


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_figures() -> None:
    system = replace(
        p1_system(10, 10),
        p2=BedPathway(2, 30, 14, (1.0, 3.0)),
        chc=Chc(10, 3, 3, (5.0,) * 12),
    )
    scenario = Scenario(p1_starts_per_day=2, community_beds=3, chc_assessors=1)
    once = compare(system, scenario, weeks=WEEKS, runs=8, seed=7)
    again = compare(system, scenario, weeks=WEEKS, runs=8, seed=7)
    other = compare(system, scenario, weeks=WEEKS, runs=8, seed=8)
    assert as_bytes(once) == as_bytes(again)
    assert once["totals"]["bed_days"] != other["totals"]["bed_days"]
    assert once["seed"] == 7
    assert once["runs"] == 8
    assert len(once["weekly"]) == WEEKS


def test_one_patient_never_started_waits_every_day_of_the_horizon() -> None:
    # No capacity and no arrivals: the one patient waiting is in hospital for all 84 days.
    run = simulate(p1_system(0, 0, waiting=1), weeks=WEEKS, seed=1)
    assert sum(run.bed_days) == DAYS
    assert run.bed_days == (7.0,) * WEEKS
    assert sum(run.cost) == DAYS * 100.0
    assert run.still_waiting["P1"] == 1
    assert run.waits["P1"] == ()


def test_a_queue_with_ample_capacity_empties_at_the_first_midday() -> None:
    # 20 patients waiting, no arrivals, a mean of 200 starts a day (Poisson: all 20 leave on
    # day 0 unless fewer than 20 slots are drawn, which has a vanishing chance): each waited
    # until midday of day 0, so 20 x 0.5 = 10 bed days, and each waited 2.5 days in all.
    run = simulate(p1_system(0, 200, waiting=20), weeks=WEEKS, seed=3)
    assert sum(run.bed_days) == 10.0
    assert run.waits["P1"] == (2.5,) * 20


def test_more_p1_starts_than_arrivals_empties_the_queue_that_grows_without_them() -> None:
    """10 ready a day against 9 starts a day: the queue grows by about one a day, so over 84
    days the delayed bed days are at least the 20 waiting now times 84 plus about 84 x 84 / 2
    (3,528) from the growth. Five more starts a day (14 > 10) keep the queue near empty: each of
    the ~840 arrivals waits about until the next midday (half a day on average), so the bed
    days are of the order of 840 x 0.5 plus the 20 waiting (gone on the first day)."""
    system = p1_system(10, 9)
    result = compare(system, Scenario(p1_starts_per_day=5), weeks=WEEKS, runs=20, seed=11)
    base = result["totals"]["bed_days"]["baseline"]
    more = result["totals"]["bed_days"]["scenario"]
    assert base["median"] > 20 * 84 + 0.5 * 84 * 84 / 2
    assert more["median"] < 2 * 840 * 0.5
    assert result["totals"]["bed_days"]["difference"]["p90"] < 0
    # The same arrivals and at least as many starts each day: never more bed days in any run.
    changed = apply(system, Scenario(p1_starts_per_day=5))
    for i in range(20):
        assert sum(simulate(changed, weeks=WEEKS, seed=11 + i).bed_days) <= sum(
            simulate(system, weeks=WEEKS, seed=11 + i).bed_days
        )


def test_more_community_beds_and_assessors_shorten_their_queues() -> None:
    # P2: 3 a day staying 14 days need 42 beds; 36 cannot keep up, 48 can.
    # CHC: 12 referrals a week against 3 assessors at 3 a week (9): the backlog grows by about
    # 3 a week; a fourth and fifth assessor (15 a week) bring it down.
    system = System(
        p1=NOTHING,
        p2=BedPathway(3, 36, 14, (1.0,) * 10),
        p3=NOTHING,
        chc=Chc(12, 3, 3, (10.0,) * 30),
        tariff=(100.0,) * DAYS,
    )
    result = compare(
        system, Scenario(community_beds=12, chc_assessors=2), weeks=WEEKS, runs=20, seed=5
    )
    totals = result["totals"]
    assert totals["bed_days_by_pathway"]["P2"]["difference"]["median"] < 0
    assert (
        totals["mean_wait_days"]["P2"]["scenario"]["median"]
        < (totals["mean_wait_days"]["P2"]["baseline"]["median"])
    )
    backlog = totals["chc_backlog_at_end"]
    assert backlog["baseline"]["median"] > 30  # grew from 30
    assert backlog["scenario"]["median"] < 30  # fell
    assert backlog["difference"]["p90"] < 0


def test_scaling_multiplies_rates_capacities_and_queues() -> None:
    system = System(
        p1=StartsPathway(4, 5, (1.0, 2.0)),
        p2=BedPathway(1, 10, 20, (3.0,)),
        p3=StartsPathway(0.5, 0.4, ()),
        chc=Chc(6, 2, 3, (1.0, 2.0, 3.0, 4.0)),
    )
    big = scaled(system, 2.5)
    assert (big.p1.arrivals_per_day, big.p1.starts_per_day) == (10, 12.5)
    assert len(big.p1.waiting) == 5
    assert len(big.chc.backlog) == 10
    assert (big.p2.beds, big.p2.length_of_stay_days) == (25, 20)
    assert (big.chc.assessors, big.chc.per_assessor_per_week) == (5, 3)


def test_poisson_by_inversion_is_monotone_in_its_mean() -> None:
    assert poisson(0.5, 0) == 0
    # P(0) at mean 1 is e^-1 = 0.368: u below it gives 0, above it at least 1.
    assert poisson(0.36, 1) == 0
    assert poisson(0.37, 1) == 1
    for u in (0.01, 0.3, 0.5, 0.9, 0.999):
        counts = [poisson(u, m) for m in (0.5, 1, 2, 5, 10, 50)]
        assert counts == sorted(counts)


def test_quantiles_interpolate_between_order_statistics() -> None:
    assert quantile([4, 1, 3, 2, 5], 0.5) == 3
    assert quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.1) == 2
    assert quantile([0, 10], 0.9) == 9
