"""The engine's per-pathway index answers what scanning the pathway spec answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.auth.actor import INTERNAL_ROLES, Actor
from app.engine.engine import AllowedEvent, Engine
from app.engine.guards import evaluate_guards
from app.models import Case

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _reference(engine: Engine, case: Case, actor: Actor) -> list[AllowedEvent]:
    """allowed_events as it was written before the index: every transition, every time (but
    those only internal roles fire, to callers without them)."""
    spec = engine.pathway_for(case).spec
    out = []
    for t in spec.transitions_from(case.state):
        if INTERNAL_ROLES.issuperset(t.roles) and actor.role_for(t.roles) is None:
            continue  # only a system or an interface fires it: not listed to anyone else
        reasons: list[str] = []
        if actor.role_for(t.roles) is None:
            reasons.append(f"needs one of the roles: {', '.join(t.roles)}")
        else:
            ctx = engine._context(case, t, actor, {}, NOW, None, None)
            reasons += evaluate_guards(t, ctx, engine.catalogue.rules)
        accepts = [f for f in t.accepts if f not in t.requires]
        out.append(
            AllowedEvent(
                t.trigger, t.target(case.state), not reasons, reasons, list(t.requires), accepts
            )
        )
    return out


def _outcome(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - a guard may need attributes this case lacks
        return type(exc).__name__


def test_allowed_events_match_a_full_scan_for_every_state_and_role_mix(engine: Engine) -> None:
    checked = 0
    for loaded in engine.catalogue.all():
        spec = loaded.spec
        every_role = sorted({r for t in spec.transitions for r in t.roles})
        role_sets = [frozenset(every_role), frozenset(every_role[:1]), frozenset({"analyst"})]
        for state in spec.states:
            for roles in role_sets:
                case = Case(
                    id=1,
                    workflow_key=spec.key,
                    workflow_version=spec.version,
                    state=state.name,
                    attributes={},
                    opened_at=NOW,
                )
                actor = Actor(1, "u", "ORG", roles)
                for _ in range(2):  # the second answer comes from the index's cache
                    fast = _outcome(engine.allowed_events, case, actor, now=NOW)
                    assert fast == _outcome(_reference, engine, case, actor), (
                        spec.key,
                        state.name,
                        sorted(roles),
                    )
                checked += 1
    assert checked > 50


def test_index_lookups_match_the_spec(engine: Engine) -> None:
    for loaded in engine.catalogue.all():
        spec = loaded.spec
        _loaded, index = engine._indexed(spec.key, spec.version)
        assert _loaded is loaded
        for state in spec.states:
            assert index.states[state.name] is spec.state(state.name)
            assert list(index.transitions_from(state.name)) == spec.transitions_from(state.name)
            for trigger in spec.triggers():
                expected = [t for t in spec.transitions_from(state.name) if t.trigger == trigger]
                assert list(index.candidates(state.name, trigger)) == expected


def test_an_unknown_pathway_version_is_not_found(engine: Engine) -> None:
    from app.errors import NotFound

    case = Case(workflow_key="discharge", workflow_version=999, state="referred")
    with pytest.raises(NotFound):
        engine.pathway_for(case)
