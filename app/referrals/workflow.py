"""Referrals between partners, declared in one place (see `app.workflows.contract`)."""

from __future__ import annotations

from pathlib import Path

from app.referrals import rules
from app.referrals.partners import FILE, PartnerDirectory, load_partners
from app.referrals.routes import router
from app.workflows.contract import Workflow


def _load(config_dir: Path) -> PartnerDirectory:
    return load_partners(config_dir)


def definition() -> Workflow:
    return Workflow(
        key="referral",
        title="Referrals between partners (hub, council, provider, CHC)",
        pathway_files=("referral.yaml",),
        rules=(rules.RULES,),
        config_files=(FILE,),
        load_config=_load,
        routers=(router,),
    )
