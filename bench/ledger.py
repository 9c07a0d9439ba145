"""The delay ledger's derivation, in process (no database, no HTTP): delayed bed days shared,
attributed and costed per second, and the four Pareto tables of the result.

Synthetic spells of a month: each not meeting the criteria to reside for `days` days with two
concurrent delay reasons for half of them, a ward move and a tariff change mid-month. What the
figure bounds is the pure work the ledger adds to deriving the spells from their events (which
the monthly DRD return already does, measured by `python -m bench run`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.config import PROJECT_ROOT
from app.discharge.history import derive_facts
from app.discharge.metrics import Spell
from app.ledger.config import LedgerConfig, load_ledger_config
from app.ledger.derive import delayed_days, spell_shares
from app.ledger.service import Ledger
from app.ledger.views import BY_FIELDS, pareto

FAMILIES = {"capacity-p1-services": "Capacity", "hospital-medical-review": "Hospital process"}


@dataclass
class EventRow:
    seq: int
    event: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    actor_username: str = "bench"
    reason: str | None = None

    @property
    def recorded_at(self) -> datetime:
        return self.occurred_at


def _spell(case_id: int, days: int) -> tuple[Spell, list[EventRow]]:
    start = datetime(2026, 11, 1, 9, tzinfo=UTC)
    ctr = start + timedelta(days=1, hours=1)
    log = [
        EventRow(1, "open", start, {"ward": "Ward 9", "pathway": "P1"}),
        EventRow(2, "not_meeting_ctr", ctr),
        EventRow(3, "open_delay", ctr + timedelta(hours=1), {"delay_code": "capacity-p1-services"}),
        EventRow(
            4,
            "open_delay",
            ctr + timedelta(days=days // 2),
            {"delay_code": "hospital-medical-review"},
        ),
        EventRow(5, "ward_transfer", ctr + timedelta(days=days // 3), {"ward": "Ward 4"}),
        EventRow(6, "discharge", ctr + timedelta(days=days), {"discharge_pathway": "P1"}),
    ]
    facts = derive_facts(log, lambda code, _at: FAMILIES.get(code))
    return Spell(case_id, "S1", "LUHFT", start, facts), log


def run(spells: int, days: int) -> dict[str, Any]:
    config: LedgerConfig = load_ledger_config(PROJECT_ROOT / "pathways" / "config")
    config = config.model_copy(
        update={
            "tariffs": (
                *config.tariffs,
                config.tariffs[0].model_copy(
                    update={"version": "bench-mid-month", "effective_from": date(2026, 11, 15)}
                ),
            )
        }
    )
    built = [_spell(i, days) for i in range(spells)]
    t0 = time.perf_counter()
    shares = []
    for spell, log in built:
        found = delayed_days(spell, last_over=date(2026, 11, 30))
        shares += spell_shares(spell, log, days=found, config=config, precedence=("Capacity",))
    derive_s = time.perf_counter() - t0
    ledger = Ledger(
        date(2026, 11, 1),
        date(2026, 11, 30),
        "days",
        "BENCH",
        datetime(2026, 11, 30, 23, 59, tzinfo=UTC),
        True,
        shares,
        {},
        {},
    )
    t1 = time.perf_counter()
    for by in BY_FIELDS:
        pareto(ledger, config, by)
    pareto_s = time.perf_counter() - t1
    bed_days = spells * days
    return {
        "spells": spells,
        "bed_days": bed_days,
        "shares": len(shares),
        "derive_s": round(derive_s, 3),
        "bed_days_per_s": round(bed_days / derive_s),
        "pareto_4_tables_s": round(pareto_s, 3),
    }


def report(out: dict[str, Any]) -> str:
    return (
        f"Delay ledger, in process: {out['spells']} spells, {out['bed_days']} delayed bed days, "
        f"{out['shares']} shares\n"
        f"  derive (share, attribute, cost): {out['derive_s']} s, "
        f"{out['bed_days_per_s']} bed days/s\n"
        f"  four Pareto tables: {out['pareto_4_tables_s']} s"
    )
