"""Read-side facts: declared by a transition, looked up through the FactPort, read by guards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.engine.catalogue import PathwayCatalogue
from app.engine.context import GuardContext
from app.engine.engine import Command, Engine
from app.engine.loader import PathwayError
from app.engine.registry import RuleRegistry
from app.errors import GuardRejected
from tests.unit.test_engine_unit import NOW, TEAM, FakeClocks, FakeStore

RULES = RuleRegistry()


@RULES.fact("free_beds", "Beds free in the service the case would start in.")
def free_beds(reader: Any, case_id: int, attributes: dict[str, Any], data: dict[str, Any]) -> int:
    raise AssertionError("the engine must ask the FactPort, never call lookups itself")


@RULES.guard("needs_a_bed", "There must be a free bed, or an override reason.")
def needs_a_bed(ctx: GuardContext) -> str | None:
    if ctx.facts["free_beds"] > 0 or ctx.reason:
        return None
    return f"No bed is free ({ctx.facts['free_beds']}); give an override reason."


PATHWAY = """
key: beds
version: 1
title: Beds
initial: waiting
open_roles: [discharge_team]
states: [{name: waiting}, {name: active}, {name: done, final: true}]
transitions:
  - {trigger: start, source: waiting, dest: active, roles: [discharge_team],
     facts: [free_beds], guards: [needs_a_bed]}
  - {trigger: finish, source: active, dest: done, roles: [discharge_team]}
"""


class Facts:
    def __init__(self, beds: int) -> None:
        self.beds = beds
        self.asked: list[tuple[str, int]] = []

    def lookup(
        self, name: str, case_id: int, _attributes: dict[str, Any], _data: dict[str, Any]
    ) -> Any:
        self.asked.append((name, case_id))
        return self.beds


@pytest.fixture
def world(tmp_path: Path) -> tuple[Engine, FakeStore, FakeClocks]:
    (tmp_path / "beds.yaml").write_text(PATHWAY)
    engine = Engine(PathwayCatalogue.from_directory(tmp_path, RULES))
    return engine, FakeStore(), FakeClocks()


def _open(engine: Engine, store: FakeStore, clocks: FakeClocks):  # noqa: ANN202
    from app.engine.engine import OpenCommand

    return engine.open_case(OpenCommand("beds", TEAM, "RX1"), now=NOW, store=store, clocks=clocks)


def test_guard_reads_the_looked_up_fact(world) -> None:  # noqa: ANN001
    engine, store, clocks = world
    case = _open(engine, store, clocks)
    full = Facts(beds=0)
    with pytest.raises(GuardRejected) as refused:
        engine.fire(
            case,
            Command("start", TEAM),
            now=NOW,
            store=store,
            clocks=clocks,
            effects=None,
            facts=full,
        )  # type: ignore[arg-type]
    assert refused.value.extra["reasons"] == ["No bed is free (0); give an override reason."]
    assert full.asked == [("free_beds", case.id)]
    allowed = engine.allowed_events(case, TEAM, now=NOW, facts=full)
    assert [(a.event, a.allowed) for a in allowed] == [("start", False)]
    engine.fire(
        case,
        Command("start", TEAM, reason="Manager agreed to open a flex bed"),
        now=NOW,
        store=store,
        clocks=clocks,
        effects=None,  # type: ignore[arg-type]
        facts=full,
    )
    assert case.state == "active"


def test_unknown_fact_is_refused_at_load(tmp_path: Path) -> None:
    (tmp_path / "beds.yaml").write_text(PATHWAY.replace("facts: [free_beds]", "facts: [beds]"))
    with pytest.raises(PathwayError, match="unknown fact 'beds'"):
        PathwayCatalogue.from_directory(tmp_path, RULES)
