"""Whitelisted guard, effect and fact functions that pathway files may name.

YAML names a guard by its registered name only; it can never name importable code.
A guard returns None to allow, or a sentence a clinician understands to refuse.

Each workflow keeps its own `RuleRegistry` and declares it in its `Workflow`; the application
merges the registered workflows' rules (`WorkflowSet.rules`). There is no global registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.engine.context import EffectContext, GuardContext

GuardFn = Callable[[GuardContext], str | None]
EffectFn = Callable[[EffectContext], None]


@dataclass(frozen=True)
class Guard:
    name: str
    description: str
    fn: GuardFn


@dataclass(frozen=True)
class Effect:
    name: str
    description: str
    fn: EffectFn


# (database session, case id, case attributes, event data) -> the fact's value. The engine
# never calls these itself: the service layer does, through the engine's FactPort.
FactFn = Callable[[Any, int, dict[str, Any], dict[str, Any]], Any]


@dataclass(frozen=True)
class Fact:
    """A named read-side fact a guard may need, such as a service's current occupancy."""

    name: str
    description: str
    fn: FactFn


class RuleRegistry:
    def __init__(self) -> None:
        self.guards: dict[str, Guard] = {}
        self.effects: dict[str, Effect] = {}
        self.facts: dict[str, Fact] = {}

    def fact(self, name: str, description: str) -> Callable[[FactFn], FactFn]:
        def register(fn: FactFn) -> FactFn:
            if name in self.facts:
                raise ValueError(f"fact {name!r} registered twice")
            self.facts[name] = Fact(name, description, fn)
            return fn

        return register

    def guard(self, name: str, description: str) -> Callable[[GuardFn], GuardFn]:
        def register(fn: GuardFn) -> GuardFn:
            if name in self.guards:
                raise ValueError(f"guard {name!r} registered twice")
            self.guards[name] = Guard(name, description, fn)
            return fn

        return register

    def effect(self, name: str, description: str) -> Callable[[EffectFn], EffectFn]:
        """Effects run after the state change, inside the same transaction."""

        def register(fn: EffectFn) -> EffectFn:
            if name in self.effects:
                raise ValueError(f"effect {name!r} registered twice")
            self.effects[name] = Effect(name, description, fn)
            return fn

        return register

    def include(self, other: RuleRegistry) -> None:
        """Add another registry's rules (a workflow's); a name may be declared only once."""
        for kind in ("guards", "effects", "facts"):
            mine, theirs = getattr(self, kind), getattr(other, kind)
            for name, rule in theirs.items():
                if name in mine and mine[name] is not rule:
                    raise ValueError(f"{kind[:-1]} {name!r} declared by two workflows")
                mine[name] = rule
