"""One contract for a workflow: everything it brings, declared in one place.

A workflow (discharge, CHC, intermediate care, the sample referral) is one package with a
`workflow.py` whose `definition()` returns a `Workflow`. The application registers the workflows
it runs by explicit calls (`app.composition.workflows`); nothing registers itself on import.
From the registered set the application takes the pathway files to load, the named rules those
files may use, the configuration files to validate, the read models every state change keeps,
the HTTP routes, the command-line commands and the demo data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import typer
from fastapi import APIRouter
from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.codelists.loader import CodeSetRegistry
from app.engine.readmodels import ReadModel, ReadModelRegistry
from app.engine.registry import RuleRegistry

if TYPE_CHECKING:
    from app.cases.transition import CaseWriter
    from app.engine.catalogue import PathwayCatalogue


@dataclass(frozen=True)
class BuildContext:
    """What a workflow may use to build its read models: the loaded code lists and the
    directory of the configuration files."""

    codes: CodeSetRegistry
    config_dir: Path


@dataclass(frozen=True)
class DemoContext:
    """What a workflow's demo data is made with: a session, the demo user and the time."""

    session: Session
    actor: Actor
    now: datetime


class CommandPort(Protocol):
    """What a workflow's commands get from the command line (typer's `ctx.obj`): the
    service's parts, built on first use, so a workflow never imports the composition root."""

    def writer(self) -> CaseWriter: ...

    def catalogue(self, pathways_dir: Path) -> PathwayCatalogue: ...


# A plan of demo journeys: run through the transition entry point by `app.demo`.
DemoPlans = Callable[[DemoContext], Sequence[Any]]


def _no_read_models(_ctx: BuildContext) -> Sequence[ReadModel]:
    return ()


@dataclass(frozen=True)
class Workflow:
    key: str
    title: str
    # Pathway files (under PATHWAYS_DIR) whose `key` this workflow owns; every version.
    pathway_files: tuple[str, ...]
    # The named guards, effects and facts its pathway files may use.
    rules: tuple[RuleRegistry, ...] = ()
    # Its configuration files (under PATHWAYS_DIR/config), loaded and checked by `load_config`.
    config_files: tuple[str, ...] = ()
    load_config: Callable[[Path], object] | None = None
    # The read models its state changes keep (called by the transition entry point).
    read_models: Callable[[BuildContext], Sequence[ReadModel]] = _no_read_models
    # Its HTTP routes (mounted under /api/v1) and command-line commands (`homefirst <name>`).
    routers: tuple[APIRouter, ...] = ()
    cli: tuple[tuple[str, typer.Typer], ...] = ()
    # The figures it adds to the managers' dashboard, by section name (documentation of where
    # they are computed; the dashboard composes them).
    metrics: tuple[str, ...] = ()
    # Its demo journeys for `serve --demo`.
    demo: DemoPlans | None = None


@dataclass
class WorkflowSet:
    """The workflows an application runs, registered explicitly, in order."""

    _workflows: dict[str, Workflow] = field(default_factory=dict)

    def register(self, workflow: Workflow) -> None:
        if workflow.key in self._workflows:
            raise ValueError(f"workflow {workflow.key!r} registered twice")
        self._workflows[workflow.key] = workflow

    def __iter__(self) -> Any:
        return iter(self._workflows.values())

    def keys(self) -> list[str]:
        return list(self._workflows)

    def get(self, key: str) -> Workflow:
        return self._workflows[key]

    def rules(self) -> RuleRegistry:
        merged = RuleRegistry()
        for workflow in self:
            for rules in workflow.rules:
                merged.include(rules)
        return merged

    def pathway_files(self, directory: Path) -> list[Path]:
        return [directory / name for w in self for name in w.pathway_files]

    def load_configs(self, config_dir: Path) -> dict[str, object]:
        """Every workflow's configuration, validated (a bad file raises, naming it)."""
        return {w.key: w.load_config(config_dir) for w in self if w.load_config is not None}

    def read_models(self, ctx: BuildContext) -> ReadModelRegistry:
        return ReadModelRegistry(model for w in self for model in w.read_models(ctx))

    def routers(self) -> list[APIRouter]:
        return [router for w in self for router in w.routers]
