"""Discharge Ready Date: the docs/domain.md §4.4 worked examples as golden cases, plus edge cases.

All §4.4 dates are "in one March"; March 2025 is used, when Europe/London is on GMT until the
30th, so UTC and local dates agree for the examples.
"""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from app.discharge.buckets import bucket_for
from app.discharge.drd import (
    NO_DRD,
    UNDER_ONE_NIGHT,
    CtrChange,
    days_delayed,
    derive_drd,
    drd_cohort,
    drd_required,
    is_delayed,
    london_date,
)


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def march(day: int) -> date:
    return date(2025, 3, day)


def nctr(day: int, hour: int = 10) -> CtrChange:
    return CtrChange(effective_at=at(day, hour), meets=False)


def meets(day: int, hour: int = 10) -> CtrChange:
    return CtrChange(effective_at=at(day, hour), meets=True)


# Example B's log, reused by C.
LOG_B = [nctr(5), meets(7), nctr(10)]


class TestWorkedExamples:
    """One test per row of the docs/domain.md §4.4 table."""

    def test_example_a_single_nctr_period(self) -> None:
        result = derive_drd([meets(1), nctr(5)], discharged_at=at(9))
        assert result.period_start == at(5)
        assert result.discharge_ready_date == march(5)
        assert result.nctr_periods == [(at(5), at(9))]
        delay = days_delayed(result.discharge_ready_date, london_date(at(9)))
        assert delay == 4
        assert bucket_for(delay) == "4-6"

    def test_example_b_finished_spell_uses_start_of_final_period(self) -> None:
        result = derive_drd(LOG_B, discharged_at=at(12))
        assert result.period_start == at(10)
        assert result.discharge_ready_date == march(10)
        # the 5th-7th period stays in the history but does not count towards the delay
        assert result.nctr_periods == [(at(5), at(7)), (at(10), at(12))]
        delay = days_delayed(march(10), london_date(at(12)))
        assert delay == 2
        assert bucket_for(delay) == "2-3"

    def test_example_c_unfinished_spell_uses_start_of_current_period(self) -> None:
        result = derive_drd(LOG_B)
        assert result.period_start == at(10)
        assert result.discharge_ready_date == march(10)
        assert result.nctr_periods == [(at(5), at(7)), (at(10), None)]
        assert days_delayed(march(10), march(11)) == 1  # running: 1 so far

    def test_example_c_note_meeting_criteria_again_clears_live_drd(self) -> None:
        result = derive_drd([*LOG_B, meets(13)])
        assert result.period_start is None
        assert result.discharge_ready_date is None
        assert result.nctr_periods == [(at(5), at(7)), (at(10), at(13))]

    def test_example_d_same_day_discharge_is_no_delay(self) -> None:
        result = derive_drd([nctr(5, hour=9)], discharged_at=at(5, hour=16))
        # "may be blank. If recorded, 5th": the calculation records it
        assert result.discharge_ready_date == march(5)
        assert result.nctr_periods == [(at(5, hour=9), at(5, hour=16))]
        delay = days_delayed(march(5), london_date(at(5, hour=16)))
        assert delay == 0
        assert bucket_for(delay) == "0"
        assert is_delayed(march(5), march(5)) is False

    def test_example_e_backdated_entry_uses_effective_date(self) -> None:
        admitted = CtrChange(effective_at=at(1), meets=True, recorded_at=at(1))
        backdated = CtrChange(effective_at=at(5), meets=False, recorded_at=at(6, hour=9))
        result = derive_drd([admitted, backdated], discharged_at=at(8))
        assert result.discharge_ready_date == march(5)  # not the 6th, when it was recorded
        delay = days_delayed(march(5), london_date(at(8)))
        assert delay == 3
        assert bucket_for(delay) == "2-3"

    def test_example_f_same_day_stay_needs_no_drd(self) -> None:
        assert drd_required(at(3, hour=8), at(3, hour=17)) is False
        result = derive_drd([], discharged_at=at(3, hour=17))
        assert result.discharge_ready_date is None
        assert result.nctr_periods == []


class TestOrdering:
    def test_unsorted_input_gives_same_result(self) -> None:
        shuffled = [LOG_B[2], LOG_B[0], LOG_B[1]]
        assert derive_drd(shuffled, discharged_at=at(12)) == derive_drd(LOG_B, discharged_at=at(12))

    def test_same_instant_later_entry_wins_and_zero_length_period_is_dropped(self) -> None:
        result = derive_drd([nctr(5), meets(5)])
        assert result.discharge_ready_date is None
        assert result.nctr_periods == []

    def test_same_instant_reverse_order_leaves_patient_nctr(self) -> None:
        result = derive_drd([meets(5), nctr(5)])
        assert result.period_start == at(5)
        assert result.nctr_periods == [(at(5), None)]

    def test_repeated_nctr_entries_do_not_move_the_start(self) -> None:
        result = derive_drd([nctr(5), nctr(6), nctr(7)], discharged_at=at(9))
        assert result.discharge_ready_date == march(5)
        assert result.nctr_periods == [(at(5), at(9))]

    def test_repeated_meets_entries_are_no_ops(self) -> None:
        result = derive_drd([meets(1), meets(2), nctr(5), meets(7), meets(8)])
        assert result.nctr_periods == [(at(5), at(7))]
        assert result.period_start is None


class TestFinishedSpells:
    def test_final_period_ended_before_discharge_still_gives_the_drd(self) -> None:
        """NCTR 5th-7th, then met CtR until discharge on the 12th. The guidance: "For finished
        episodes of care, the Discharge Ready Date should record the start date of the final
        period that the patient no longer met the 'Criteria to Reside'". The final period is
        the 5th-7th, so the DRD is the 5th (HomeFirst used to leave it empty); the patient was
        not NCTR at discharge, which `nctr_at_end` says."""
        result = derive_drd([nctr(5), meets(7)], discharged_at=at(12))
        assert result.period_start == at(5)
        assert result.discharge_ready_date == march(5)
        assert result.nctr_periods == [(at(5), at(7))]
        assert result.nctr_at_end is False
        # Still NCTR at discharge: the same DRD, and NCTR at the end.
        assert derive_drd([nctr(5)], discharged_at=at(12)).nctr_at_end is True

    def test_an_unfinished_spell_meeting_the_criteria_again_has_no_drd(self) -> None:
        # "For unfinished episodes of care … the start date of the current period": none.
        result = derive_drd([nctr(5), meets(7)])
        assert (result.discharge_ready_date, result.nctr_at_end) == (None, False)

    def test_entries_after_discharge_are_ignored(self) -> None:
        result = derive_drd([nctr(5), meets(13)], discharged_at=at(12))
        assert result.discharge_ready_date == march(5)
        assert result.nctr_periods == [(at(5), at(12))]

    def test_nctr_at_the_discharge_instant_counts(self) -> None:
        result = derive_drd([nctr(5, hour=14)], discharged_at=at(5, hour=14))
        assert result.discharge_ready_date == march(5)
        assert result.nctr_periods == [(at(5, hour=14), at(5, hour=14))]

    def test_no_log_unfinished(self) -> None:
        assert derive_drd([]).period_start is None


class TestLocalDates:
    def test_drd_is_the_london_date_in_summer_time(self) -> None:
        # 23:30 UTC on 26 Oct 2024 is 00:30 BST on the 27th
        result = derive_drd([CtrChange(datetime(2024, 10, 26, 23, 30, tzinfo=UTC), meets=False)])
        assert result.discharge_ready_date == date(2024, 10, 27)

    def test_drd_is_the_london_date_in_winter(self) -> None:
        result = derive_drd([CtrChange(datetime(2025, 1, 5, 23, 30, tzinfo=UTC), meets=False)])
        assert result.discharge_ready_date == date(2025, 1, 5)

    def test_other_offsets_are_converted(self) -> None:
        plus_two = timezone(timedelta(hours=2))
        # 01:00 at +02:00 on 6 March is 23:00 GMT on the 5th
        result = derive_drd([CtrChange(datetime(2025, 3, 6, 1, 0, tzinfo=plus_two), False)])
        assert result.discharge_ready_date == march(5)

    def test_delay_counts_calendar_dates_across_clock_change(self) -> None:
        # NCTR 00:30 GMT on 30 Mar 2025; clocks go forward at 01:00 UTC; discharged 00:10 BST
        # on the 31st (23:10 UTC on the 30th). Only 22h40m elapsed, but it is the next day.
        result = derive_drd(
            [CtrChange(datetime(2025, 3, 30, 0, 30, tzinfo=UTC), meets=False)],
            discharged_at=datetime(2025, 3, 30, 23, 10, tzinfo=UTC),
        )
        assert result.discharge_ready_date == march(30)
        discharged_on = london_date(datetime(2025, 3, 30, 23, 10, tzinfo=UTC))
        assert discharged_on == march(31)
        assert days_delayed(march(30), discharged_on) == 1


class TestValidation:
    def test_naive_effective_at_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            CtrChange(effective_at=datetime(2025, 3, 5, 10), meets=False)

    def test_naive_recorded_at_is_refused(self) -> None:
        with pytest.raises(ValueError, match="recorded_at"):
            CtrChange(at(5), False, recorded_at=datetime(2025, 3, 6, 9))

    def test_naive_discharge_is_refused(self) -> None:
        with pytest.raises(ValueError, match="discharged_at"):
            derive_drd([nctr(5)], discharged_at=datetime(2025, 3, 9))

    def test_date_before_drd_is_refused(self) -> None:
        with pytest.raises(ValueError, match="before the DRD"):
            days_delayed(march(10), march(9))


class TestDrdRequired:
    def test_overnight_stay_needs_drd(self) -> None:
        assert drd_required(at(3, hour=23), at(4, hour=1)) is True

    def test_stay_crossing_local_midnight_in_summer(self) -> None:
        # 22:30 UTC and 23:30 UTC on 1 July are 23:30 and 00:30 BST: one night in London time
        admitted = datetime(2025, 7, 1, 22, 30, tzinfo=UTC)
        assert drd_required(admitted, datetime(2025, 7, 1, 23, 30, tzinfo=UTC)) is True

    def test_until_before_admission_is_refused(self) -> None:
        with pytest.raises(ValueError, match="before admitted_at"):
            drd_required(at(4), at(3))


class TestDrdCohort:
    """Who is in the DRD measures (PUBLISHED-RULES.md rows 12 and 14). The guidance: the DRD
    "should ideally be completed for all inpatients with a stay of one night or longer … for
    those patients discharged on the same day as their discharge ready date … providers may
    leave the Discharge Ready Date field unfilled"."""

    def test_a_stay_of_under_one_night_is_outside_whatever_was_recorded(self) -> None:
        place = drd_cohort(march(3), march(3), march(3))
        assert (place.in_cohort, place.delay_days, place.outside_because) == (
            False,
            None,
            UNDER_ONE_NIGHT,
        )
        assert drd_cohort(march(3), march(3), None).outside_because == UNDER_ONE_NIGHT

    def test_a_discharge_without_a_drd_is_not_a_zero_day_delay(self) -> None:
        # Admitted the 1st, discharged the 9th, never recorded as not meeting the criteria.
        place = drd_cohort(march(1), march(9), None)
        assert (place.in_cohort, place.delay_days, place.outside_because) == (False, None, NO_DRD)

    def test_discharged_on_the_drd_is_a_zero_day_delay_in_the_cohort(self) -> None:
        # HomeFirst derives the DRD, so a same-day-as-DRD discharge has it filled: "DoD is
        # same as DRD", in the cohort, 0 days (§4.4 example D after an overnight stay).
        place = drd_cohort(march(4), march(5), march(5))
        assert (place.in_cohort, place.delay_days) == (True, 0)
        assert bucket_for(place.delay_days) == "0"

    def test_one_night_is_enough(self) -> None:
        place = drd_cohort(march(4), march(9), march(5))
        assert (place.in_cohort, place.delay_days) == (True, 4)

    def test_the_night_is_a_london_date_change(self) -> None:
        # 23:30 UTC on 1 July is 00:30 BST on the 2nd: admitted and discharged the same day.
        admitted = datetime(2025, 7, 1, 23, 30, tzinfo=UTC)
        discharged = datetime(2025, 7, 2, 20, 0, tzinfo=UTC)
        assert drd_required(admitted, discharged) is False
        place = drd_cohort(london_date(admitted), london_date(discharged), None)
        assert place.outside_because == UNDER_ONE_NIGHT

    def test_discharged_while_meeting_the_criteria_again_keeps_the_final_period_drd(self) -> None:
        # "For finished episodes of care, the Discharge Ready Date should record the start date
        # of the final period that the patient no longer met the 'Criteria to Reside'": NCTR
        # 5th-7th, met the criteria from the 7th, discharged the 12th: DRD the 5th, 7 days.
        result = derive_drd([nctr(5), meets(7)], discharged_at=at(12))
        assert result.discharge_ready_date is not None
        place = drd_cohort(march(1), march(12), result.discharge_ready_date)
        assert (place.in_cohort, place.delay_days) == (True, 7)
        assert bucket_for(7) == "7-13"
