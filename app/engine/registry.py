"""Whitelisted guard and effect functions that pathway files may name.

YAML names a guard by its registered name only; it can never name importable code.
A guard returns None to allow, or a sentence a clinician understands to refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


class RuleRegistry:
    def __init__(self) -> None:
        self.guards: dict[str, Guard] = {}
        self.effects: dict[str, Effect] = {}

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


# The application's registry; `app.rules` modules add to it on import.
RULES = RuleRegistry()
