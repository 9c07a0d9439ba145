"""The composition root: which workflows this service runs, and the parts built from them.

Workflows are registered here by explicit calls, in order; nothing registers itself on import.
`app.main` (the HTTP application) and `app.cli` (the command line) both build from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.actions.readmodel import CaseActions
from app.cases.transition import CaseWriter
from app.chc import workflow as chc
from app.codelists.checks import code_checker
from app.codelists.loader import CodeSetRegistry
from app.config import Settings
from app.discharge import workflow as discharge
from app.engine.catalogue import PathwayCatalogue
from app.engine.engine import Engine
from app.engine.loader import PathwayError
from app.ic import workflow as intermediate_care
from app.referrals import workflow as referrals
from app.sample import workflow as sample
from app.workflows.contract import BuildContext, WorkflowSet


def workflows() -> WorkflowSet:
    registered = WorkflowSet()
    registered.register(sample.definition())
    registered.register(discharge.definition())
    registered.register(chc.definition())
    registered.register(intermediate_care.definition())
    registered.register(referrals.definition())
    return registered


def load_codes(settings: Settings) -> CodeSetRegistry:
    return CodeSetRegistry.from_directory(settings.pathways_dir / "codelists")


def build_catalogue(workflow_set: WorkflowSet, pathways_dir: Path) -> PathwayCatalogue:
    """Every registered workflow's pathway files (and their archived versions), with the rules
    the registered workflows declare. A bad file raises `PathwayError` naming it."""
    catalogue = PathwayCatalogue.from_directory(pathways_dir, workflow_set.rules())
    keys = set(workflow_set.keys())
    for loaded in catalogue.all():
        if loaded.spec.key not in keys:
            raise PathwayError(
                loaded.source, [f"no registered workflow owns the pathway key {loaded.spec.key!r}"]
            )
    for path in workflow_set.pathway_files(pathways_dir):
        if not path.is_file():
            raise PathwayError(path, ["a registered workflow declares this file; it is missing"])
    return catalogue


def build_engine(
    settings: Settings,
    codes: CodeSetRegistry | None = None,
    workflow_set: WorkflowSet | None = None,
) -> Engine:
    codes = codes or load_codes(settings)
    workflow_set = workflow_set or workflows()
    return Engine(
        build_catalogue(workflow_set, settings.pathways_dir), code_check=code_checker(codes)
    )


def build_writer(
    settings: Settings,
    engine: Engine,
    codes: CodeSetRegistry,
    workflow_set: WorkflowSet | None = None,
) -> CaseWriter:
    """The one transition entry point, with the read models of the registered workflows."""
    workflow_set = workflow_set or workflows()
    ctx = BuildContext(codes=codes, config_dir=settings.pathways_dir / "config")
    read_models = workflow_set.read_models(ctx)
    # Actions and milestones belong to every workflow whose pathway offers them.
    read_models.add(CaseActions(engine.catalogue))
    return CaseWriter(engine, read_models)


@dataclass(frozen=True)
class Parts:
    """What the command line needs of the service: the engine, the transition entry point and
    the registered workflows (the HTTP application keeps the same on `app.state`)."""

    workflows: WorkflowSet
    codes: CodeSetRegistry
    engine: Engine
    writer: CaseWriter


def build_parts(settings: Settings) -> Parts:
    registered = workflows()
    codes = load_codes(settings)
    registered.load_configs(settings.pathways_dir / "config")
    engine = build_engine(settings, codes, registered)
    return Parts(registered, codes, engine, build_writer(settings, engine, codes, registered))
