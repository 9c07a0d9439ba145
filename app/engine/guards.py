"""Running a transition's guards: every guard runs, every refusal reason is kept."""

from __future__ import annotations

from app.engine.context import GuardContext
from app.engine.registry import RuleRegistry
from app.engine.spec import TransitionSpec


def evaluate_guards(t: TransitionSpec, ctx: GuardContext, rules: RuleRegistry) -> list[str]:
    return [reason for name in t.guards if (reason := rules.guards[name].fn(ctx)) is not None]
