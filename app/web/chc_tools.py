"""The Checklist and the Decision Support Tool as forms: their domains and levels from the
configuration (pathways/config/chc-assessment-tools.yaml), the indicative result with the rule
behind it from the API's own evaluation (app.chc.service), and what recording each one fires.

Decision support only: the indicative result never moves a case. A person records the scores
(`record_checklist`, `record_dst`) and then chooses the next step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.chc import service
from app.chc.config import ChcConfig
from app.chc.schemas import IndicativeRead


@dataclass(frozen=True)
class Domain:
    key: str  # the pathway field, e.g. checklist_breathing
    label: str
    choices: tuple[tuple[str, str], ...]  # (value, label)
    hint: str = ""


@dataclass(frozen=True)
class Step:
    """The event that usually follows recording the tool, offered beside it."""

    event: str
    title: str
    field: str | None  # the one optional field the form offers for it


@dataclass(frozen=True)
class Tool:
    key: str  # "checklist" or "dst": the page's address
    title: str
    record_event: str
    domains: tuple[Domain, ...]
    unscored_as: str  # how a partial result counts an unscored domain
    next_step: Step
    extras: tuple[str, ...]  # the record event's other fields the form offers

    def values(self, source: Mapping[str, Any]) -> dict[str, str | None]:
        """Each domain's value in `source` (form or case attributes), None when blank."""
        return {d.key: (str(source.get(d.key) or "") or None) for d in self.domains}

    def problems(self, values: Mapping[str, str | None]) -> list[dict[str, str]]:
        """Values the form does not offer (a hand-made post), as error summary items."""
        return [
            {"text": f"{d.label}: choose one of the levels shown", "href": f"#{d.key}"}
            for d in self.domains
            if values.get(d.key) is not None and values[d.key] not in dict(d.choices)
        ]


def checklist_tool(cfg: ChcConfig) -> Tool:
    table = cfg.tools.checklist
    return Tool(
        key="checklist",
        title="Checklist",
        record_event="record_checklist",
        domains=tuple(
            Domain(
                f"checklist_{d.key}",
                d.label,
                tuple((s, s) for s in table.scores),
                "Carries a Priority level in the DST" if d.priority else "",
            )
            for d in table.domains
        ),
        unscored_as=table.scores[-1],
        next_step=Step("start_full_assessment", "Start the full assessment", "checklist_rationale"),
        extras=("checklist_date",),
    )


def dst_tool(cfg: ChcConfig) -> Tool:
    table = cfg.tools.dst
    return Tool(
        key="dst",
        title="Decision Support Tool",
        record_event="record_dst",
        domains=tuple(
            Domain(f"dst_{d.key}", d.label, tuple((lv, lv.capitalize()) for lv in d.levels))
            for d in table.domains
        ),
        unscored_as="none",
        next_step=Step("refer_to_panel", "Refer to the next panel", None),
        extras=("dst_setting", "acute_exception_reason", "dst_date"),
    )


@dataclass(frozen=True)
class Indicative:
    """The indicative result for what is scored so far: final once every domain is scored."""

    read: IndicativeRead
    scored: int
    total: int

    @property
    def complete(self) -> bool:
        return self.scored == self.total


def indicative(tool: Tool, values: Mapping[str, str | None], cfg: ChcConfig) -> Indicative | None:
    """The API's indicative result for `values` (None when nothing is scored). Unscored domains
    count at their lowest level, so the result so far can only rise as scoring goes on; the
    page says so until every domain is scored. Values must be ones the form offers."""
    scored = sum(1 for d in tool.domains if values.get(d.key))
    if not scored:
        return None
    prefix = f"{tool.key}_"
    filled: dict[str, str | None] = {}
    for d in tool.domains:
        lowest = tool.unscored_as if tool.unscored_as in dict(d.choices) else d.choices[0][0]
        filled[d.key.removeprefix(prefix)] = values.get(d.key) or lowest
    if tool.key == "checklist":
        read = service.indicative_checklist(filled, cfg)
    else:
        read = service.indicative_dst(filled, cfg)
    return Indicative(read, scored, len(tool.domains))
