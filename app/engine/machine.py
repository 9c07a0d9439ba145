"""One `transitions` machine per pathway version, built once and shared by every case.

The machine holds no case: each firing passes a throwaway `MachineModel`, so the shared machine
can serve many threads. Auto transitions are off (no unguarded `to_<state>()` back doors),
invalid triggers raise, and no `Timeout` states are used (clocks live in the database).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transitions import EventData, Machine

from app.engine.context import MachineModel
from app.engine.guards import evaluate_guards
from app.engine.registry import RuleRegistry
from app.engine.spec import PathwaySpec, TransitionSpec


@dataclass(frozen=True)
class GuardGate:
    """The single condition on a machine transition: runs every guard and keeps every reason.

    `transitions` stops at the first failing condition; clinicians need all the reasons at once.
    A transition the caller has no role for is passed over, so a branch of the same trigger
    meant for another role can never be taken by this caller.
    """

    transition: TransitionSpec
    rules: RuleRegistry

    def __call__(self, event: EventData) -> bool:
        model = event.model
        assert isinstance(model, MachineModel)  # noqa: S101 - the engine passes only these
        ctx = model.contexts.get(self.transition)
        if ctx is None or ctx.actor.role_for(self.transition.roles) is None:
            return False
        missing = [f for f in self.transition.requires if ctx.data.get(f) is None]
        reasons = [
            f"{self.transition.trigger!r} to {self.transition.dest!r} needs {f!r}" for f in missing
        ]
        reasons += evaluate_guards(self.transition, ctx, self.rules)
        model.rejections.extend(reasons)
        if reasons:
            return False
        model.taken = self.transition
        return True


def build_machine(spec: PathwaySpec, rules: RuleRegistry) -> Machine:
    states = [{"name": s.name, "final": s.final} for s in spec.states]
    transitions: list[dict[str, Any]] = []
    for t in spec.transitions:
        gate = GuardGate(t, rules)
        transitions.append(
            {"trigger": t.trigger, "source": list(t.source), "dest": t.dest, "conditions": [gate]}
        )
    return Machine(
        model=None,
        states=states,
        transitions=transitions,
        initial=spec.initial,
        auto_transitions=False,
        send_event=True,
        queued=False,
        ignore_invalid_triggers=False,
    )
