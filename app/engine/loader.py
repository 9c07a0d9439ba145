"""Load pathway files, check them, and fail fast with the file and the problem named."""

from __future__ import annotations

import hashlib
from collections import deque
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from app.auth.actor import KNOWN_ROLES
from app.engine.registry import RuleRegistry
from app.engine.spec import RESERVED_TRIGGERS, PathwaySpec, StateSpec

# Parsed exactly as the spec parses them, so "*" and the spec agree on which states are final.
_STATES = TypeAdapter(list[StateSpec])


class PathwayError(ValueError):
    """A pathway file is invalid. The message names the file and every problem found."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def pathway_files(directory: Path) -> list[Path]:
    """Current files in `directory`, plus superseded versions kept in `directory/archive`."""
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    archive = directory / "archive"
    if archive.is_dir():
        files += sorted(archive.glob("*.yaml")) + sorted(archive.glob("*.yml"))
    return files


def load_file(path: Path, rules: RuleRegistry) -> tuple[PathwaySpec, str]:
    """Parse and check one file; returns the spec and the SHA-256 of its bytes."""
    raw_bytes = path.read_bytes()
    try:
        raw = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as exc:
        raise PathwayError(path, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise PathwayError(path, ["the file must hold a mapping with key, version, states..."])
    _expand_wildcard_sources(raw)
    try:
        spec = PathwaySpec.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise PathwayError(path, problems) from exc
    problems = check_spec(spec, rules)
    if problems:
        raise PathwayError(path, problems)
    return spec, hashlib.sha256(raw_bytes).hexdigest()


def _expand_wildcard_sources(raw: dict[str, Any]) -> None:
    """`source: "*"` means every non-final state (the library's own "*" includes finals)."""
    states = raw.get("states")
    transitions = raw.get("transitions")
    if not isinstance(states, list) or not isinstance(transitions, list):
        return
    try:
        parsed = _STATES.validate_python(states)
    except ValidationError:
        return  # the full validation below reports the broken states
    open_states = [s.name for s in parsed if not s.final]
    for transition in transitions:
        if isinstance(transition, dict) and transition.get("source") == "*":
            transition["source"] = open_states


def check_spec(spec: PathwaySpec, rules: RuleRegistry) -> list[str]:
    problems: list[str] = []
    names = [s.name for s in spec.states]
    states = set(names)
    problems += [f"state {n!r} is declared twice" for n in sorted(states) if names.count(n) > 1]
    if spec.initial not in states:
        problems.append(f"initial state {spec.initial!r} is not declared")
    problems += _unknown_roles("open_roles", spec.open_roles)
    problems += _unknown_fields("open", spec.open_fields, spec)
    floor = spec.clinical_time_floor
    if floor is not None and (
        floor not in spec.open_requires or spec.fields[floor].type != "datetime"
    ):
        problems.append(f"clinical_time_floor {floor!r} must be a datetime field in open_requires")
    for state in spec.states:
        if sum(t.startswith("queue:") for t in state.tags) > 1:
            problems.append(f"state {state.name!r} has more than one queue tag")
    for t in spec.transitions:
        where = f"transition {t.trigger!r}"
        if t.trigger in RESERVED_TRIGGERS:
            problems.append(f"{where}: the trigger name is reserved")
        for source in t.source:
            if source not in states:
                problems.append(f"{where}: unknown source state {source!r}")
            elif spec.state(source).final:
                problems.append(
                    f"{where}: leaves final state {source!r}; final states have no exits"
                )
        if t.dest is not None and t.dest not in states:
            problems.append(f"{where}: unknown destination state {t.dest!r}")
        problems += [f"{where}: {p}" for p in _unknown_roles("roles", t.roles)]
        problems += [f"{where}: unknown guard {g!r}" for g in t.guards if g not in rules.guards]
        problems += [f"{where}: unknown effect {e!r}" for e in t.effects if e not in rules.effects]
        problems += [f"{where}: unknown fact {f!r}" for f in t.facts if f not in rules.facts]
        problems += [f"{where}: {p}" for p in _unknown_fields("data", t.data_fields, spec)]
    problems += _clock_problems(spec, states)
    problems += _milestone_problems(spec, states)
    if not problems:
        problems += [
            f"state {s!r} cannot be reached from {spec.initial!r}" for s in _unreachable(spec)
        ]
    return problems


def _unknown_roles(where: str, roles: tuple[str, ...]) -> list[str]:
    return [f"{where}: unknown role {r!r}" for r in roles if r not in KNOWN_ROLES]


def _unknown_fields(where: str, fields: tuple[str, ...], spec: PathwaySpec) -> list[str]:
    return [
        f"{where}: field {f!r} is not declared under fields" for f in fields if f not in spec.fields
    ]


def _clock_problems(spec: PathwaySpec, states: set[str]) -> list[str]:
    problems: list[str] = []
    triggers = set(spec.triggers()) | RESERVED_TRIGGERS
    seen: set[str] = set()
    for clock in spec.clocks:
        if clock.name in seen:
            problems.append(f"clock {clock.name!r} is declared twice")
        seen.add(clock.name)
        for part_name in ("starts_on", "pauses_on", "resumes_on", "stops_on"):
            part = getattr(clock, part_name)
            problems += [
                f"clock {clock.name!r} {part_name}: unknown event {e!r}"
                for e in part.events
                if e not in triggers
            ]
            problems += [
                f"clock {clock.name!r} {part_name}: unknown state {s!r}"
                for s in part.states
                if s not in states
            ]
        if not clock.starts_on.events and not clock.starts_on.states:
            problems.append(f"clock {clock.name!r}: starts_on names no event or state")
    return problems


def _milestone_problems(spec: PathwaySpec, states: set[str]) -> list[str]:
    problems: list[str] = []
    triggers = set(spec.triggers()) | RESERVED_TRIGGERS
    late = spec.fields.get("action_late_reason")
    late_choices = set(late.choices) if late is not None else set()
    seen: set[str] = set()
    for milestone in spec.milestones:
        where = f"milestone {milestone.name!r}"
        if milestone.name in seen:
            problems.append(f"{where} is declared twice")
        seen.add(milestone.name)
        for part_name in ("starts_on", "done_on", "withdrawn_on"):
            part = getattr(milestone, part_name)
            problems += [
                f"{where} {part_name}: unknown event {e!r}"
                for e in part.events
                if e not in triggers
            ]
            problems += [
                f"{where} {part_name}: unknown state {s!r}" for s in part.states if s not in states
            ]
            problems += [
                f"{where} {part_name}: field {f!r} is not declared under fields"
                for f in part.data
                if f not in spec.fields
            ]
        problems += [
            f"{where} when: field {f!r} is not declared under fields"
            for f in milestone.when
            if f not in spec.fields
        ]
        problems += [f"{where} owner: {p}" for p in _unknown_roles("role", (milestone.owner.role,))]
        source = milestone.owner.organisation_from
        if source is not None and source not in spec.fields:
            problems.append(f"{where} owner: field {source!r} is not declared under fields")
        problems += [
            f"{where}: late reason {r!r} is not a choice of the action_late_reason field"
            for r in milestone.late_reasons
            if r not in late_choices
        ]
    return problems


def _unreachable(spec: PathwaySpec) -> list[str]:
    edges: dict[str, set[str]] = {}
    for t in spec.transitions:
        for source in t.source:
            edges.setdefault(source, set()).add(t.target(source))
    seen = {spec.initial}
    todo = deque([spec.initial])
    while todo:
        for nxt in edges.get(todo.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return [s.name for s in spec.states if s.name not in seen]
