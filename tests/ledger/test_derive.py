"""The pure derivation (app/ledger/derive.py) on hand-made event logs: the edges the month's
API tests do not reach. No database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any

from app.discharge.history import derive_facts
from app.discharge.metrics import Spell
from app.ledger.config import NO_REASON
from app.ledger.derive import delayed_days, spell_shares
from tests.ledger.month import TEST_CONFIG

FAMILIES = {"capacity-p1-services": "Capacity", "hospital-medical-review": "Hospital process"}


@dataclass
class Event:
    seq: int
    event: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    actor_username: str = "u"
    reason: str | None = None

    @property
    def recorded_at(self) -> datetime:
        return self.occurred_at


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def spell(*events: tuple[str, datetime, dict[str, Any]]) -> tuple[Spell, list[Event]]:
    log = [Event(1, "open", at(1, 9), {"ward": "Ward 9", "pathway": "P1"})]
    log += [Event(i + 2, name, when, data) for i, (name, when, data) in enumerate(events)]
    facts = derive_facts(log, lambda code, _at: FAMILIES.get(code))
    return Spell(7, "S1", "LUHFT", at(1, 9), facts), log


def shares_of(s: Spell, log: list[Event], config: Any = TEST_CONFIG, last: int = 30) -> Any:
    days = delayed_days(s, last_over=date(2026, 11, last))
    return spell_shares(s, log, days=days, config=config, precedence=("Capacity",))


def test_a_delay_opened_and_closed_at_one_instant_is_no_reason() -> None:
    s, log = spell(
        ("not_meeting_ctr", at(3), {}),
        ("open_delay", at(3, 11), {"delay_code": "hospital-medical-review"}),
        ("end_delay", at(3, 11), {"delay_code": "hospital-medical-review"}),
        ("discharge", at(4, 12), {"discharge_pathway": "P1"}),
    )
    (only,) = shares_of(s, log)
    assert (only.day, only.reason, only.organisation, only.share) == (
        date(2026, 11, 3),
        NO_REASON,
        "UNATTRIBUTED",
        Fraction(1),
    )


def test_a_reason_reopened_the_same_day_counts_once() -> None:
    s, log = spell(
        ("not_meeting_ctr", at(3), {}),
        ("open_delay", at(3, 11), {"delay_code": "capacity-p1-services"}),
        ("end_delay", at(3, 12), {"delay_code": "capacity-p1-services"}),
        ("open_delay", at(3, 15), {"delay_code": "capacity-p1-services"}),
        ("discharge", at(4, 12), {"discharge_pathway": "P1"}),
    )
    (only,) = shares_of(s, log)
    assert (only.reason, only.organisation, only.share, only.cost) == (
        "capacity-p1-services",
        "LA",
        Fraction(1),
        Fraction(300),
    )


def test_days_before_the_first_tariff_are_counted_not_costed() -> None:
    s, log = spell(("not_meeting_ctr", datetime(2025, 12, 30, 10, tzinfo=UTC), {}))
    found = spell_shares(
        s,
        log,
        days=delayed_days(s, last_over=date(2026, 1, 1)),
        config=TEST_CONFIG,
        precedence=(),
    )
    assert [(x.day.isoformat(), x.tariff, x.cost) for x in found] == [
        ("2025-12-30", None, None),
        ("2025-12-31", None, None),
        ("2026-01-01", "t-2026", Fraction(300)),
    ]


def test_primary_only_follows_the_marked_reason() -> None:
    s, log = spell(
        ("not_meeting_ctr", at(3), {}),
        ("open_delay", at(3, 11), {"delay_code": "capacity-p1-services"}),
        ("open_delay", at(3, 12), {"delay_code": "hospital-medical-review", "delay_primary": True}),
        ("discharge", at(4, 12), {"discharge_pathway": "P1"}),
    )
    equal = shares_of(s, log)
    assert sorted((x.reason, x.share) for x in equal) == [
        ("capacity-p1-services", Fraction(1, 2)),
        ("hospital-medical-review", Fraction(1, 2)),
    ]
    primary = shares_of(s, log, TEST_CONFIG.model_copy(update={"attribution": "primary_only"}))
    assert [(x.reason, x.organisation, x.share) for x in primary] == [
        ("hospital-medical-review", "ACUTE", Fraction(1))
    ]


def test_a_patient_still_in_counts_up_to_the_last_day_that_is_over() -> None:
    s, log = spell(("not_meeting_ctr", at(27), {}))
    assert [d.day for d in shares_of(s, log, last=29)] == [date(2026, 11, d) for d in (27, 28, 29)]
    assert shares_of(s, log, last=26) == []
