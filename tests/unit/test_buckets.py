"""National delay buckets (docs/domain.md §6.3): every boundary, and the §6.3 worked example."""

import pytest

from app.discharge.buckets import BUCKET_LABELS, DELAY_BUCKETS, bucket_for, summarise_delays


def test_buckets_are_the_national_seven_in_order() -> None:
    assert BUCKET_LABELS == ("0", "1", "2-3", "4-6", "7-13", "14-20", "21+")
    assert [(b.min_days, b.max_days) for b in DELAY_BUCKETS] == [
        (0, 0),
        (1, 1),
        (2, 3),
        (4, 6),
        (7, 13),
        (14, 20),
        (21, None),
    ]


@pytest.mark.parametrize(
    ("days", "label"),
    [
        (0, "0"),
        (1, "1"),
        (2, "2-3"),
        (3, "2-3"),
        (4, "4-6"),
        (6, "4-6"),
        (7, "7-13"),
        (13, "7-13"),
        (14, "14-20"),
        (20, "14-20"),
        (21, "21+"),
        (22, "21+"),
        (365, "21+"),
    ],
)
def test_every_boundary(days: int, label: str) -> None:
    assert bucket_for(days) == label


def test_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        bucket_for(-1)


@pytest.mark.parametrize("bad", [True, 1.0, "3"])
def test_non_int_is_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        bucket_for(bad)  # type: ignore[arg-type]


class TestSummariseDelays:
    def test_worked_example_from_domain_6_3(self) -> None:
        summary = summarise_delays([0, 0, 3, 9])
        assert summary.discharges == 4
        assert summary.delayed == 2
        assert summary.no_delay == 2
        assert summary.delayed_bed_days == 12
        assert summary.percent_no_delay == 50.0
        assert summary.percent_delayed == 50.0
        assert summary.average_including_zero == 3.0  # 12 / 4
        assert summary.average_excluding_zero == 6.0  # 12 / 2
        assert summary.bucket_counts == {
            "0": 2,
            "1": 0,
            "2-3": 1,
            "4-6": 0,
            "7-13": 1,
            "14-20": 0,
            "21+": 0,
        }
        assert summary.bucket_bed_days["2-3"] == 3
        assert summary.bucket_bed_days["7-13"] == 9
        assert summary.percent_of_all("7-13") == 25.0
        assert summary.percent_of_delayed("7-13") == 50.0
        assert summary.percent_of_delayed("0") is None

    def test_no_discharges_gives_no_averages_rather_than_zero(self) -> None:
        summary = summarise_delays([])
        assert summary.discharges == 0
        assert summary.delayed_bed_days == 0
        assert summary.percent_no_delay is None
        assert summary.average_including_zero is None
        assert summary.average_excluding_zero is None

    def test_only_zero_day_delays(self) -> None:
        summary = summarise_delays([0, 0, 0])
        assert summary.percent_no_delay == 100.0
        assert summary.average_including_zero == 0.0
        assert summary.average_excluding_zero is None  # nobody was delayed

    def test_long_delays(self) -> None:
        summary = summarise_delays([1, 21, 30])
        assert summary.bucket_counts["21+"] == 2
        assert summary.bucket_bed_days["21+"] == 51
        assert summary.delayed_bed_days == 52
        assert summary.average_excluding_zero == pytest.approx(52 / 3)
