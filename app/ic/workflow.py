"""The intermediate-care workflow, declared in one place (see `app.workflows.contract`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.engine.readmodels import ReadModel
from app.ic import capacity_rules, rules
from app.ic.cli import ic_cli
from app.ic.config import FILE, load_ic_config
from app.ic.demo import demo_services, ic_plans
from app.ic.readmodel import IcPlacements
from app.ic.routes import router
from app.workflows.contract import BuildContext, DemoContext, Workflow


def _read_models(_ctx: BuildContext) -> Sequence[ReadModel]:
    return (IcPlacements(),)


def _demo(ctx: DemoContext) -> Sequence[Any]:
    return ic_plans(demo_services(ctx.session, ctx.actor, ctx.now), ctx.now)


def definition() -> Workflow:
    return Workflow(
        key="intermediate_care",
        title="Intermediate care (step-up and step-down)",
        pathway_files=("intermediate_care.yaml",),
        rules=(rules.RULES, capacity_rules.RULES),
        config_files=(FILE,),
        load_config=load_ic_config,
        read_models=_read_models,
        routers=(router,),
        cli=(("ic", ic_cli),),
        metrics=("intermediate_care",),
        demo=_demo,
    )
