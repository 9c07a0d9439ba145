"""Folding a case's events back into its state: the check that history and projection agree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.auth.actor import Actor
from app.engine.catalogue import PathwayCatalogue
from app.engine.context import EffectContext
from app.models import CaseEvent


@dataclass
class Projection:
    state: str | None = None
    version: int = 0
    queue: str | None = None
    is_open: bool = True
    closed_at: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class _ReplayPorts:
    """Effects replayed against the projection; anything beyond the case itself is ignored."""

    def __init__(self, projection: Projection) -> None:
        self.projection = projection

    def set_attributes(self, case_id: int, values: dict[str, Any]) -> None:  # noqa: ARG002
        self.projection.attributes.update(values)

    def __getattr__(self, name: str) -> Any:
        return lambda *_args, **_kwargs: None


def replay(catalogue: PathwayCatalogue, events: Sequence[CaseEvent]) -> Projection:
    out = Projection()
    for expected_seq, e in enumerate(events, start=1):
        loaded = catalogue.get(e.pathway_key, e.pathway_version)
        if loaded is None:
            out.problems.append(
                f"seq {e.seq}: pathway {e.pathway_key} v{e.pathway_version} missing"
            )
            return out
        spec = loaded.spec
        if e.seq != expected_seq:
            out.problems.append(f"seq {e.seq} found where {expected_seq} was expected")
        if e.from_state != out.state:
            out.problems.append(f"seq {e.seq} starts from {e.from_state}, not {out.state}")
        dest = spec.state(e.to_state)
        out.state, out.version, out.queue = dest.name, e.seq, dest.queue
        out.is_open = not dest.final
        out.closed_at = e.occurred_at if dest.final else None
        out.attributes.update(
            {k: v for k, v in e.data.items() if k in spec.fields and spec.fields[k].store}
        )
        taken = [
            t
            for t in spec.transitions
            if t.trigger == e.event
            and e.from_state in t.source
            and t.target(e.from_state) == e.to_state
        ]
        if e.event != "open" and not taken:
            out.problems.append(
                f"seq {e.seq}: no transition {e.event} {e.from_state}->{e.to_state}"
            )
        for name in taken[0].effects if taken else ():
            actor = Actor(e.actor_id, e.actor_username, e.actor_org, frozenset({e.actor_role}))
            catalogue.rules.effects[name].fn(
                EffectContext(
                    e.case_id,
                    e.pathway_key,
                    e.event,
                    e.from_state,
                    e.to_state,
                    dict(out.attributes),
                    dict(e.data),
                    actor,
                    e.occurred_at,
                    _ReplayPorts(out),
                )
            )
    return out
