"""Primary delay reason projection (docs/domain.md §5.6)."""

from datetime import UTC, datetime
from itertools import permutations

import pytest

from app.discharge.primary_reason import DelayPeriod, choose_primary_reason

AS_AT = datetime(2025, 3, 12, 23, 59, tzinfo=UTC)


def t(day: int, hour: int = 9) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


def period(
    code: str,
    family: str | None,
    start_day: int,
    *,
    end_day: int | None = None,
    recorded_day: int | None = None,
    marked: bool = False,
) -> DelayPeriod:
    return DelayPeriod(
        code=code,
        family=family,
        started_at=t(start_day),
        ended_at=t(end_day) if end_day is not None else None,
        recorded_at=t(recorded_day if recorded_day is not None else start_day),
        marked_primary=marked,
    )


HOSPITAL = period("hospital-tto", "Hospital process", 3)
INTERFACE = period("interface-p1", "Interface process", 5)
CAPACITY = period("capacity-p1", "Capacity", 8)
WELLBEING = period("wellbeing-choice", "Wellbeing concerns", 2)


class TestOpenPeriods:
    def test_no_periods(self) -> None:
        assert choose_primary_reason([], as_at=AS_AT) is None

    def test_only_closed_or_future_periods(self) -> None:
        closed = period("a", "Capacity", 1, end_day=4)
        future = period("b", "Capacity", 13)
        assert choose_primary_reason([closed, future], as_at=AS_AT) is None

    def test_period_ending_at_the_snapshot_is_not_open(self) -> None:
        ends_now = period("a", "Capacity", 1, end_day=12)
        assert choose_primary_reason([ends_now], as_at=t(12)) is None

    def test_period_starting_at_the_snapshot_is_open(self) -> None:
        starts_now = period("a", "Capacity", 12)
        choice = choose_primary_reason([starts_now], as_at=t(12))
        assert choice is not None
        assert choice.code == "a"

    def test_closed_higher_precedence_period_is_ignored(self) -> None:
        closed_capacity = period("capacity-old", "Capacity", 1, end_day=6)
        choice = choose_primary_reason([closed_capacity, HOSPITAL], as_at=AS_AT)
        assert choice is not None
        assert choice.code == "hospital-tto"
        assert choice.candidates == (HOSPITAL,)


class TestRanking:
    def test_family_precedence_beats_earlier_start(self) -> None:
        # Hospital process started first, but Capacity outranks it by default
        choice = choose_primary_reason([HOSPITAL, INTERFACE, CAPACITY], as_at=AS_AT)
        assert choice is not None
        assert choice.code == "capacity-p1"
        assert choice.rule == "ranked"
        assert choice.candidates == (CAPACITY, INTERFACE, HOSPITAL)

    def test_interface_beats_hospital(self) -> None:
        choice = choose_primary_reason([HOSPITAL, INTERFACE], as_at=AS_AT)
        assert choice is not None
        assert choice.code == "interface-p1"

    def test_earliest_started_within_family(self) -> None:
        later = period("capacity-equipment", "Capacity", 9)
        earlier = period("capacity-housing", "Capacity", 4)
        choice = choose_primary_reason([later, earlier], as_at=AS_AT)
        assert choice is not None
        assert choice.code == "capacity-housing"

    def test_unlisted_family_ranks_after_listed_ones(self) -> None:
        # Wellbeing concerns is not in the default list, so it loses despite starting first
        choice = choose_primary_reason([WELLBEING, HOSPITAL], as_at=AS_AT)
        assert choice is not None
        assert choice.code == "hospital-tto"

    def test_codes_without_family_fall_back_to_earliest_started(self) -> None:
        # 2022 list: no families, so the longest-standing cause is primary
        transport = period("awaiting-transport", None, 7)
        p3_bed = period("p3-care-home-bed", None, 4)
        choice = choose_primary_reason([transport, p3_bed], as_at=AS_AT)
        assert choice is not None
        assert choice.code == "p3-care-home-bed"

    def test_unlisted_and_none_families_are_level(self) -> None:
        no_family = period("x", None, 6)
        wellbeing = period("y", "Wellbeing concerns", 5)
        choice = choose_primary_reason([no_family, wellbeing], as_at=AS_AT)
        assert choice is not None
        assert choice.code == "y"

    def test_custom_precedence(self) -> None:
        choice = choose_primary_reason(
            [HOSPITAL, CAPACITY, WELLBEING],
            as_at=AS_AT,
            family_precedence=("Wellbeing concerns", "Hospital process"),
        )
        assert choice is not None
        assert choice.candidates == (WELLBEING, HOSPITAL, CAPACITY)


class TestTieBreakers:
    def test_same_start_earlier_recorded_wins(self) -> None:
        recorded_late = period("a-code", "Capacity", 5, recorded_day=7)
        recorded_early = period("z-code", "Capacity", 5, recorded_day=6)
        choice = choose_primary_reason([recorded_late, recorded_early], as_at=AS_AT)
        assert choice is not None
        assert choice.code == "z-code"

    def test_same_start_and_recorded_lowest_code_wins(self) -> None:
        b = period("capacity-b", "Capacity", 5)
        a = period("capacity-a", "Capacity", 5)
        choice = choose_primary_reason([b, a], as_at=AS_AT)
        assert choice is not None
        assert choice.code == "capacity-a"

    def test_every_input_order_gives_the_same_answer(self) -> None:
        pool = [
            HOSPITAL,
            INTERFACE,
            CAPACITY,
            WELLBEING,
            period("capacity-a", "Capacity", 8),
            period("none", None, 1),
        ]
        answers = {
            choice.candidates
            for order in permutations(pool)
            if (choice := choose_primary_reason(order, as_at=AS_AT)) is not None
        }
        assert len(answers) == 1
        (ranked,) = answers
        assert [p.code for p in ranked] == [
            "capacity-a",
            "capacity-p1",
            "interface-p1",
            "hospital-tto",
            "none",
            "wellbeing-choice",
        ]


class TestMarkedPrimary:
    def test_marked_period_beats_precedence(self) -> None:
        marked_hospital = period("hospital-tto", "Hospital process", 3, marked=True)
        choice = choose_primary_reason([CAPACITY, marked_hospital], as_at=AS_AT)
        assert choice is not None
        assert choice.code == "hospital-tto"
        assert choice.rule == "marked_primary"

    def test_two_marked_periods_are_ranked_among_themselves(self) -> None:
        marked_hospital = period("hospital-tto", "Hospital process", 3, marked=True)
        marked_interface = period("interface-p1", "Interface process", 5, marked=True)
        choice = choose_primary_reason([marked_hospital, CAPACITY, marked_interface], as_at=AS_AT)
        assert choice is not None
        assert choice.code == "interface-p1"
        assert [p.code for p in choice.candidates] == [
            "interface-p1",
            "hospital-tto",
            "capacity-p1",
        ]

    def test_marked_but_closed_period_does_not_count(self) -> None:
        marked_closed = period("hospital-tto", "Hospital process", 3, end_day=6, marked=True)
        choice = choose_primary_reason([marked_closed, INTERFACE], as_at=AS_AT)
        assert choice is not None
        assert choice.code == "interface-p1"
        assert choice.rule == "ranked"


class TestValidation:
    def test_naive_snapshot_is_refused(self) -> None:
        with pytest.raises(ValueError, match="as_at"):
            choose_primary_reason([HOSPITAL], as_at=datetime(2025, 3, 12))

    def test_naive_period_is_refused(self) -> None:
        with pytest.raises(ValueError, match="started_at"):
            DelayPeriod("a", None, datetime(2025, 3, 1), None, t(1))

    def test_period_ending_before_start_is_refused(self) -> None:
        with pytest.raises(ValueError, match="ends before it starts"):
            period("a", None, 5, end_day=4)

    def test_duplicate_precedence_is_refused(self) -> None:
        with pytest.raises(ValueError, match="more than once"):
            choose_primary_reason(
                [HOSPITAL], as_at=AS_AT, family_precedence=("Capacity", "Capacity")
            )
