"""The discharge-to-assess workflow, declared in one place (see `app.workflows.contract`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.actions import rules as action_rules
from app.demo.plans import History
from app.discharge import rules
from app.discharge.config import FILE, load_discharge_settings
from app.discharge.demo import discharge_plans
from app.discharge.demo_history import discharge_history
from app.discharge.projection import DischargeSpells
from app.discharge.restatement_marks import RestatementMarks
from app.discharge.routes import router
from app.engine.readmodels import ReadModel
from app.workflows.contract import BuildContext, DemoContext, Workflow


def _read_models(ctx: BuildContext) -> Sequence[ReadModel]:
    return (DischargeSpells(ctx.codes), RestatementMarks())


def _demo(ctx: DemoContext) -> Sequence[Any]:
    # The hand-made ward picture, then the queues' past (the start windows' pace, the backtest).
    return [*discharge_plans(ctx.now), History(discharge_history(ctx.now))]


def definition() -> Workflow:
    return Workflow(
        key="discharge",
        title="Discharge to assess (pathways 0-3)",
        pathway_files=("discharge.yaml",),
        # Version 5 offers actions and milestones and records its referrals (app/actions).
        rules=(rules.RULES, action_rules.RULES),
        config_files=(FILE,),
        load_config=load_discharge_settings,
        read_models=_read_models,
        routers=(router,),
        metrics=("discharge",),
        demo=_demo,
    )
