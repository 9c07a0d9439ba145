"""Mermaid state diagrams drawn from a pathway spec (no graphviz needed)."""

from __future__ import annotations

from app.engine.spec import PathwaySpec


def mermaid(spec: PathwaySpec) -> str:
    lines = [
        "stateDiagram-v2",
        f"    %% {spec.key} v{spec.version}: {spec.title}",
        f"    [*] --> {spec.initial}",
    ]
    seen: set[tuple[str, str, str]] = set()
    for t in spec.transitions:
        for source in t.source:
            edge = (source, t.target(source), t.trigger)
            if edge not in seen:
                seen.add(edge)
                lines.append(f"    {source} --> {t.target(source)}: {t.trigger}")
    lines += [f"    {s.name} --> [*]" for s in spec.states if s.final]
    return "\n".join(lines) + "\n"
