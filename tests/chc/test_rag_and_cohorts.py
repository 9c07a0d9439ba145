"""Explainable RAG (docs/domain.md §7.11), cohorts (§7.9) and panel dates (§7.12): pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.chc.panels import (
    is_panel_date,
    nearest_panels,
    next_panel_for_referral,
    panel_after,
    panels_from,
)
from app.chc.rag import CaseFacts, assign_cohort, rate
from tests.chc.helpers import CFG

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def facts(days_ago: int, state: str = "referred", **attributes: object) -> CaseFacts:
    return CaseFacts(state, dict(attributes), NOW - timedelta(days=days_ago))


@pytest.mark.parametrize(
    ("days", "attrs", "state", "colour", "rules"),
    [
        (3, {}, "referred", "green", ()),
        (28, {}, "allocated", "green", ()),
        (29, {}, "allocated", "amber", ("beyond_28_days",)),
        # The "over 12/26 weeks" tiers count weeks beyond the 28 days, as the national bands of
        # incomplete referrals do: 28 + 84 = 112 and 28 + 182 = 210 days since referral.
        (111, {}, "screening", "amber", ("beyond_28_days",)),
        (112, {}, "screening", "amber", ("over_12_weeks_beyond_28_days",)),
        (209, {}, "deferred", "amber", ("over_12_weeks_beyond_28_days",)),
        (210, {}, "deferred", "red", ("over_26_weeks_beyond_28_days",)),
        (2, {"fast_track_flagged": True}, "referred", "red", ("fast_track_flagged_on_a_list",)),
        (2, {"fast_track_flagged": True}, "fast_track", "red", ("fast_track_outstanding",)),
        (5, {"setting": "acute"}, "referred", "amber", ("acute_setting",)),
        (40, {"setting": "acute"}, "referred", "red", ("acute_over_28_days", "beyond_28_days")),
        (2, {"safeguarding_concern": True}, "referred", "red", ("safeguarding_concern",)),
        (2, {}, "fast_track", "red", ("fast_track_outstanding",)),
        (2, {"package_end_date": "2026-12-01"}, "referred", "amber", ("package_ending",)),
        (2, {"package_end_date": "2026-12-08"}, "referred", "green", ()),
        (2, {"deteriorating": True}, "referred", "amber", ("deteriorating",)),
    ],
)
def test_rating_and_its_reasons(
    days: int, attrs: dict[str, object], state: str, colour: str, rules: tuple[str, ...]
) -> None:
    rating = rate(facts(days, state, **attrs), CFG.rag, now=NOW)
    assert rating.colour == colour
    assert rating.rule_ids == rules
    assert rating.waiting_days == days
    assert rating.ruleset_version == CFG.rag.version


def test_reasons_are_sentences_with_the_days_and_worst_first() -> None:
    rating = rate(facts(220, "referred", deteriorating=True), CFG.rag, now=NOW)
    assert rating.summary == (
        "Red: incomplete referral 26 weeks or more beyond the 28 days (220 days since referral); "
        "condition reported as deteriorating"
    )
    green = rate(facts(1), CFG.rag, now=NOW)
    assert green.summary == "Green: no risk factor fired: within the 28-day standard, no flags"


def test_the_earliest_recorded_referral_date_counts() -> None:
    later_open = facts(10, referral_date=(NOW - timedelta(days=40)).date().isoformat())
    assert later_open.waiting_days(NOW) == 40
    assert rate(later_open, CFG.rag, now=NOW).colour == "amber"


@pytest.mark.parametrize(
    ("attrs", "cohort", "body"),
    [
        ({"discharge_date": "2020-03-19", "interim_nhs_funded": True}, "covid_period", "MLCSU"),
        ({"discharge_date": "2020-08-31", "interim_nhs_funded": True}, "covid_period", "MLCSU"),
        (
            {"discharge_date": "2020-09-01", "interim_nhs_funded": True},
            "restoration",
            "NHS Cheshire and Merseyside ICB",
        ),
        (
            {"discharge_date": "2020-05-01", "interim_nhs_funded": False},
            "restoration",
            "NHS Cheshire and Merseyside ICB",
        ),
        ({"discharge_date": "2020-05-01"}, "restoration", "NHS Cheshire and Merseyside ICB"),
    ],
)
def test_cohorts_from_configured_windows(attrs: dict[str, object], cohort: str, body: str) -> None:
    got = assign_cohort(CaseFacts("referred", dict(attrs), NOW), CFG.local)
    assert (got.key, got.responsible_organisation) == (cohort, body)


def test_a_referral_before_september_2020_outside_the_window_is_unassigned() -> None:
    early = CaseFacts(
        "referred", {"discharge_date": "2020-02-01"}, datetime(2020, 8, 1, tzinfo=UTC)
    )
    got = assign_cohort(early, CFG.local)
    assert got.key == "unassigned"
    assert got.responsible_organisation is None
    assert got.why == "matches no configured cohort window"


def test_fortnightly_panel_dates() -> None:
    cfg = CFG.local.panels
    assert cfg.anchor_date == date(2026, 1, 8)
    assert is_panel_date(date(2026, 11, 26), cfg)
    assert not is_panel_date(date(2026, 11, 27), cfg)
    # Two days' notice: a referral on the Tuesday before a Thursday panel makes it; Wednesday not.
    assert next_panel_for_referral(date(2026, 11, 24), cfg) == date(2026, 11, 26)
    assert next_panel_for_referral(date(2026, 11, 25), cfg) == date(2026, 12, 10)
    assert panel_after(date(2026, 11, 26), cfg) == date(2026, 12, 10)
    assert panels_from(date(2026, 11, 27), 3, cfg) == [
        date(2026, 12, 10),
        date(2026, 12, 24),
        date(2027, 1, 7),
    ]
    assert nearest_panels(date(2026, 12, 1), cfg) == (date(2026, 11, 26), date(2026, 12, 10))
