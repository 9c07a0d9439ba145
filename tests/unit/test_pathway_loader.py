"""Pathway files: the shipped folder loads, and every kind of bad file is refused by name."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

import app.engine.catalogue as catalogue_module
from app.composition import workflows
from app.config import PROJECT_ROOT
from app.engine.catalogue import PathwayCatalogue
from app.engine.loader import PathwayError, pathway_files
from app.engine.registry import RuleRegistry

TEST_RULES = RuleRegistry()


@TEST_RULES.guard("always_ok", "Never refuses.")
def always_ok(ctx: Any) -> str | None:
    return None


@TEST_RULES.effect("do_nothing", "Does nothing.")
def do_nothing(ctx: Any) -> None:
    return None


BASE: dict[str, Any] = {
    "key": "mini",
    "version": 1,
    "title": "Mini pathway",
    "initial": "start",
    "open_roles": ["admin"],
    "fields": {"note": {"type": "text"}},
    "states": [
        {"name": "start"},
        {"name": "middle"},
        {"name": "end", "final": True},
        {"name": "gone", "final": True},
    ],
    "transitions": [
        {
            "trigger": "go",
            "source": "start",
            "dest": "middle",
            "roles": ["admin"],
            "accepts": ["note"],
            "guards": ["always_ok"],
            "effects": ["do_nothing"],
        },
        {"trigger": "finish", "source": "middle", "dest": "end", "roles": ["admin"]},
        {"trigger": "cancel", "source": "*", "dest": "gone", "roles": ["admin"]},
    ],
    "clocks": [
        {
            "name": "c",
            "target": "PT2H",
            "warning": "PT1H",
            "starts_on": {"events": ["open"]},
            "stops_on": {"states": ["end"]},
        }
    ],
}


def spec(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    doc.update(changes)
    return doc


def write(directory: Path, name: str, doc: dict[str, Any] | str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
    return path


def refused(tmp_path: Path, doc: dict[str, Any] | str) -> tuple[Path, str]:
    path = write(tmp_path, "broken.yaml", doc)
    with pytest.raises(PathwayError) as info:
        PathwayCatalogue.from_directory(tmp_path, TEST_RULES)
    assert info.value.path == str(path)
    assert str(info.value).startswith(f"{path}: ")
    return path, str(info.value)


def test_base_document_is_valid(tmp_path: Path) -> None:
    write(tmp_path, "mini.yaml", BASE)
    cat = PathwayCatalogue.from_directory(tmp_path, TEST_RULES)
    assert cat.keys() == ["mini"]
    assert [s.name for s in cat.latest("mini").spec.states] == ["start", "middle", "end", "gone"]


def test_shipped_pathways_directory_loads() -> None:
    directory = PROJECT_ROOT / "pathways"
    cat = PathwayCatalogue.from_directory(directory, workflows().rules())
    assert "sample-referral" in cat.keys()
    assert {p.source for p in cat.all()} == set(pathway_files(directory))
    for loaded in cat.all():
        assert loaded.sha256 == hashlib.sha256(loaded.source.read_bytes()).hexdigest()
    sample = cat.latest("sample-referral")
    assert sample is not None
    assert (sample.spec.version, sample.spec.initial) == (1, "received")
    assert sample.spec.state("completed").final is True


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PathwayError, match="pathways directory not found"):
        PathwayCatalogue.from_directory(tmp_path / "nope", TEST_RULES)


def test_unknown_guard(tmp_path: Path) -> None:
    doc = spec()
    doc["transitions"][0]["guards"] = ["always_ok", "no_such_guard"]
    _, message = refused(tmp_path, doc)
    assert "transition 'go': unknown guard 'no_such_guard'" in message
    assert "always_ok" not in message


def test_unknown_effect(tmp_path: Path) -> None:
    doc = spec()
    doc["transitions"][1]["effects"] = ["send_pigeon"]
    _, message = refused(tmp_path, doc)
    assert "transition 'finish': unknown effect 'send_pigeon'" in message


def test_unknown_role_on_transition_and_open(tmp_path: Path) -> None:
    doc = spec(open_roles=["admin", "wizard"])
    doc["transitions"][0]["roles"] = ["warlock"]
    _, message = refused(tmp_path, doc)
    assert "open_roles: unknown role 'wizard'" in message
    assert "transition 'go': roles: unknown role 'warlock'" in message


def test_unreachable_state(tmp_path: Path) -> None:
    doc = spec()
    doc["states"].append({"name": "orphan"})
    _, message = refused(tmp_path, doc)
    assert message.endswith("state 'orphan' cannot be reached from 'start'")


def test_transition_leaving_a_final_state(tmp_path: Path) -> None:
    doc = spec()
    doc["transitions"].append(
        {"trigger": "reopen", "source": "end", "dest": "start", "roles": ["admin"]}
    )
    _, message = refused(tmp_path, doc)
    assert "transition 'reopen': leaves final state 'end'; final states have no exits" in message


def test_duplicate_key_and_version_in_two_files(tmp_path: Path) -> None:
    first = write(tmp_path, "a-mini.yaml", BASE)
    second = write(tmp_path, "b-mini.yaml", BASE)
    with pytest.raises(PathwayError) as info:
        PathwayCatalogue.from_directory(tmp_path, TEST_RULES)
    message = str(info.value)
    assert info.value.path == str(second)
    assert message.startswith(str(second))
    assert f"duplicate key 'mini' version 1, also in {first}" in message


def test_duplicate_between_current_and_archive(tmp_path: Path) -> None:
    write(tmp_path, "mini.yaml", BASE)
    archived = write(tmp_path, "archive/mini.v1.yaml", BASE)
    with pytest.raises(PathwayError, match="duplicate key 'mini' version 1") as info:
        PathwayCatalogue.from_directory(tmp_path, TEST_RULES)
    assert info.value.path == str(archived)


def test_invalid_yaml(tmp_path: Path) -> None:
    _, message = refused(tmp_path, "key: mini\nstates: [start, {name: \n")
    assert "not valid YAML" in message


def test_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    _, message = refused(tmp_path, "- just\n- a list\n")
    assert "the file must hold a mapping" in message


def test_unknown_data_field_in_requires(tmp_path: Path) -> None:
    doc = spec()
    doc["transitions"][1]["requires"] = ["ghost_field"]
    _, message = refused(tmp_path, doc)
    assert "transition 'finish': data: field 'ghost_field' is not declared under fields" in message


def test_clock_with_unknown_event_and_state(tmp_path: Path) -> None:
    doc = spec()
    doc["clocks"][0]["starts_on"] = {"events": ["opened"]}
    doc["clocks"][0]["stops_on"] = {"states": ["finished"]}
    _, message = refused(tmp_path, doc)
    assert "clock 'c' starts_on: unknown event 'opened'" in message
    assert "clock 'c' stops_on: unknown state 'finished'" in message


@pytest.mark.parametrize("warning", ["PT2H", "PT3H", "PT0S"])
def test_warning_not_inside_target(tmp_path: Path, warning: str) -> None:
    doc = spec()
    doc["clocks"][0]["warning"] = warning
    _, message = refused(tmp_path, doc)
    assert "clock c: warnings must fall between zero and the target" in message


def test_reserved_trigger_open(tmp_path: Path) -> None:
    doc = spec()
    doc["transitions"][0]["trigger"] = "open"
    _, message = refused(tmp_path, doc)
    assert "transition 'open': the trigger name is reserved" in message


def test_initial_state_not_declared(tmp_path: Path) -> None:
    _, message = refused(tmp_path, spec(initial="nowhere"))
    assert "initial state 'nowhere' is not declared" in message


def test_initial_key_missing(tmp_path: Path) -> None:
    doc = spec()
    del doc["initial"]
    _, message = refused(tmp_path, doc)
    assert "initial: Field required" in message


def test_wildcard_source_expands_to_non_final_states_only(tmp_path: Path) -> None:
    write(tmp_path, "mini.yaml", BASE)
    loaded = PathwayCatalogue.from_directory(tmp_path, TEST_RULES).latest("mini")
    cancel = next(t for t in loaded.spec.transitions if t.trigger == "cancel")
    assert cancel.source == ("start", "middle")
    assert set(loaded.machine.events["cancel"].transitions) == {"start", "middle"}
    assert [t.trigger for t in loaded.spec.transitions_from("end")] == []


def test_archive_versions_and_latest(tmp_path: Path) -> None:
    current = write(tmp_path, "mini.yaml", spec(version=3, title="Mini v3"))
    old = write(tmp_path, "archive/mini.v1.yaml", spec(version=1))
    write(tmp_path, "archive/mini.v2.yaml", spec(version=2))
    cat = PathwayCatalogue.from_directory(tmp_path, TEST_RULES)
    assert cat.versions("mini") == [1, 2, 3]
    assert cat.latest("mini").spec.version == 3
    assert cat.latest("mini").source == current
    assert cat.get("mini", 1).source == old
    assert cat.get("mini", 4) is None
    assert cat.keys() == ["mini"]


def test_one_machine_per_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "mini.yaml", spec(version=2))
    write(tmp_path, "archive/mini.v1.yaml", spec(version=1))
    built: list[tuple[str, int]] = []
    real_build = catalogue_module.build_machine

    def counting_build(s: Any, rules: RuleRegistry) -> Any:
        built.append((s.key, s.version))
        return real_build(s, rules)

    monkeypatch.setattr(catalogue_module, "build_machine", counting_build)
    cat = PathwayCatalogue.from_directory(tmp_path, TEST_RULES)
    assert sorted(built) == [("mini", 1), ("mini", 2)]
    v1, v2 = cat.get("mini", 1), cat.get("mini", 2)
    assert v1.machine is cat.get("mini", 1).machine
    assert v2.machine is cat.latest("mini").machine
    assert v1.machine is not v2.machine
    assert len(built) == 2  # looking pathways up never builds another machine


def test_state_without_name_is_a_pathway_error(tmp_path: Path) -> None:
    doc = spec()
    doc["states"].append({"description": "forgot the name"})
    _, message = refused(tmp_path, doc)
    assert "states.4.name: Field required" in message


def test_wildcard_uses_the_same_final_flag_as_the_spec(tmp_path: Path) -> None:
    doc = spec()
    doc["states"][1]["final"] = "false"
    write(tmp_path, "mini.yaml", doc)
    loaded = PathwayCatalogue.from_directory(tmp_path, TEST_RULES).latest("mini")
    assert loaded.spec.state("middle").final is False
    cancel = next(t for t in loaded.spec.transitions if t.trigger == "cancel")
    assert cancel.source == ("start", "middle")
