"""ISO 8601 durations as pathway files write them, and Mermaid diagrams drawn from a spec."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.config import PROJECT_ROOT
from app.engine.diagrams import mermaid
from app.engine.durations import parse_duration
from app.engine.loader import load_file
from app.engine.spec import PathwaySpec
from app.sample.rules import RULES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT2H", timedelta(hours=2)),
        ("P28D", timedelta(days=28)),
        ("P6W", timedelta(days=42)),
        ("P1DT12H", timedelta(hours=36)),
        ("PT90M", timedelta(minutes=90)),
        ("PT45S", timedelta(seconds=45)),
        ("P1W2DT3H4M5S", timedelta(days=9, hours=3, minutes=4, seconds=5)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "2H", "P1.5D", "P1DT", "pt2h", "P1M", "PT2H "])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 duration") as info:
        parse_duration(text)
    assert repr(text) in str(info.value)


@pytest.fixture(scope="module")
def sample() -> PathwaySpec:
    spec, _ = load_file(PROJECT_ROOT / "pathways" / "sample-referral.yaml", RULES)
    return spec


def test_mermaid_header_and_initial(sample: PathwaySpec) -> None:
    lines = mermaid(sample).splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert lines[1] == "    %% sample-referral v1: Sample referral (engine demonstration)"
    assert lines[2] == "    [*] --> received"
    assert mermaid(sample).endswith("\n")


def test_mermaid_has_an_edge_for_every_transition(sample: PathwaySpec) -> None:
    lines = mermaid(sample).splitlines()
    edges = {(s, t.dest, t.trigger) for t in sample.transitions for s in t.source}
    drawn = [line for line in lines if ": " in line and "-->" in line]
    assert sorted(drawn) == sorted(f"    {s} --> {d}: {t}" for s, d, t in edges)
    assert len(drawn) == 10  # 6 single-source transitions + withdraw from 4 open states
    assert "    on_hold --> withdrawn: withdraw" in lines
    assert "    completed --> withdrawn: withdraw" not in lines


def test_mermaid_marks_final_states(sample: PathwaySpec) -> None:
    lines = mermaid(sample).splitlines()
    ends = [line.strip().split(" --> ")[0] for line in lines if line.endswith("--> [*]")]
    assert ends == ["completed", "declined", "withdrawn"]
    assert ends == [s.name for s in sample.states if s.final]


def test_mermaid_draws_a_shared_edge_once() -> None:
    spec = PathwaySpec.model_validate(
        {
            "key": "twice",
            "version": 2,
            "title": "Twice",
            "initial": "a",
            "open_roles": ["admin"],
            "states": [{"name": "a"}, {"name": "b", "final": True}],
            "transitions": [
                {"trigger": "go", "source": "a", "dest": "b", "roles": ["admin"]},
                {"trigger": "go", "source": "a", "dest": "b", "roles": ["manager"]},
            ],
        }
    )
    assert mermaid(spec) == (
        "stateDiagram-v2\n    %% twice v2: Twice\n    [*] --> a\n    a --> b: go\n    b --> [*]\n"
    )
