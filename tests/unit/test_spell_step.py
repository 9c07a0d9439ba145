"""Applying one criteria-to-reside or escalation entry to a spell row (`step`) gives the row a
full derivation from the events would give, or declines; checked over random logs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from app.discharge.history import derive_facts
from app.discharge.spell_rows import STEP_EVENTS, spell_rows, step

START = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)  # the clocks change during these logs
CASE = SimpleNamespace(
    id=1,
    organisation="ORG",
    site="AINTREE",
    attributes={"admitted_at": START.isoformat(), "hospital_system": "LUHFT"},
    opened_at=START,
    closed_at=None,
)
DERIVED = ("nctr_last_start", "nctr_last_end", "drd_day", "escalated", "ctr_last_at")


def _event(seq: int, name: str, at: datetime) -> Any:
    return SimpleNamespace(
        seq=seq,
        event=name,
        occurred_at=at,
        recorded_at=at,
        data={},
        actor_username="tester",
        reason=None,
    )


def _row(events: list[Any]) -> SimpleNamespace:
    rows = spell_rows(CASE, derive_facts(events, lambda _code, _at: None), (None, None))  # type: ignore[arg-type]
    return SimpleNamespace(**rows.spell)


def test_a_step_agrees_with_the_derivation_or_declines() -> None:
    rng = random.Random(5)
    names = sorted(STEP_EVENTS)
    applied = declined = 0
    for _ in range(400):
        events: list[Any] = []
        at = START
        for seq in range(1, rng.randint(2, 14)):
            # Mostly forward in time, sometimes backdated, sometimes at the same instant.
            at = at + timedelta(hours=rng.choice((-30, -2, 0, 1, 5, 20)))
            event = _event(seq, rng.choice(names), at)
            before = _row(events)
            after = _row([*events, event])
            changed = step(before, event.event, event.occurred_at)
            if changed is None:
                declined += 1
            else:
                applied += 1
                stepped = {**vars(before), **changed}
                assert {k: stepped[k] for k in DERIVED} == {k: vars(after)[k] for k in DERIVED}, [
                    (e.event, e.occurred_at) for e in [*events, event]
                ]
            events.append(event)
    assert applied > 1000
    assert declined > 100  # backdated entries and same-instant corrections went to the events
