"""Checks that the CHC configuration and `pathways/chc.yaml` say the same thing.

Some figures live in both (the pathway's clocks are engine data; the configuration feeds
reports and RAG): the Fast Track target (§13 U11), the 28-day standard, the Checklist scores
and DST levels per domain, and the facts and states the RAG rules name.
"""

from __future__ import annotations

from app.chc.config import ChcConfig
from app.engine.durations import parse_duration
from app.engine.spec import PathwaySpec


def consistency_problems(cfg: ChcConfig, spec: PathwaySpec) -> list[str]:
    problems: list[str] = []
    clocks = {c.name: c for c in spec.clocks}
    fast = clocks.get("fast_track_package")
    if fast is None or fast.target_delta != cfg.local.fast_track.target_delta:
        problems.append(
            f"fast_track_package clock target {fast.target if fast else 'missing'} differs from "
            f"chc-local.yaml fast_track.package_target {cfg.local.fast_track.package_target}"
        )
    standard = clocks.get("chc_28_day")
    days = cfg.local.reporting.decision_target_days
    if standard is None or standard.target_delta != parse_duration(f"P{days}D"):
        problems.append(f"chc_28_day clock target differs from decision_target_days {days}")
    for d in cfg.tools.checklist.domains:
        field = spec.fields.get(f"checklist_{d.key}")
        if field is None or tuple(field.choices) != tuple(cfg.tools.checklist.scores):
            problems.append(f"pathway field checklist_{d.key} does not offer the Checklist scores")
    for dst in cfg.tools.dst.domains:
        field = spec.fields.get(f"dst_{dst.key}")
        if field is None or tuple(field.choices) != tuple(dst.levels):
            problems.append(f"pathway field dst_{dst.key} does not offer {list(dst.levels)}")
    states = set(spec.states_by_name)
    for rule in cfg.rag.rules:
        when = rule.when
        named = [when.flag] if when.flag else []
        named += list(when.equals or {})
        named += [when.date_within_days.field] if when.date_within_days else []
        problems += [
            f"RAG rule {rule.id}: no pathway field {f!r}" for f in named if f not in spec.fields
        ]
        problems += [
            f"RAG rule {rule.id}: no pathway state {s!r}"
            for s in when.states or ()
            if s not in states
        ]
    return problems
