"""The sample referral workflow: the smallest complete example of the contract (see the guide
in pathways/README.md, "Adding a workflow")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.sample import rules
from app.sample.demo import referral_plans
from app.workflows.contract import DemoContext, Workflow


def _demo(_ctx: DemoContext) -> Sequence[Any]:
    return referral_plans()


def definition() -> Workflow:
    return Workflow(
        key="sample-referral",
        title="Sample referral (a worked example of the engine)",
        pathway_files=("sample-referral.yaml",),
        rules=(rules.RULES,),
        demo=_demo,
    )
