"""The NHS Continuing Healthcare workflow, declared in one place (see
`app.workflows.contract`)."""

from __future__ import annotations

from collections.abc import Sequence

from app.chc import rules
from app.chc.cli import chc_cli
from app.chc.config import FILES, chc_config, load_chc_config
from app.chc.readmodel import ChcWorkItems
from app.chc.routes import routers
from app.engine.readmodels import ReadModel
from app.workflows.contract import BuildContext, Workflow


def _read_models(ctx: BuildContext) -> Sequence[ReadModel]:
    return (ChcWorkItems(chc_config(ctx.config_dir)),)


def definition() -> Workflow:
    return Workflow(
        key="chc",
        title="NHS Continuing Healthcare",
        pathway_files=("chc.yaml",),
        rules=(rules.RULES,),
        config_files=FILES,
        load_config=load_chc_config,
        read_models=_read_models,
        routers=tuple(routers),
        cli=(("chc", chc_cli),),
        metrics=("chc",),
        # The CHC demo is the backlog import of the sample lists (README), not journeys.
        demo=None,
    )
