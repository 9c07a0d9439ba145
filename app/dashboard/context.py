"""What the metrics need besides the database: code lists and local configuration."""

from __future__ import annotations

from dataclasses import dataclass

from app.codelists.loader import CodeSetRegistry
from app.config import Settings
from app.discharge.config import DischargeConfig, load_discharge_config
from app.engine.catalogue import PathwayCatalogue
from app.ic.config import IcConfig, ic_config

IC_OUTCOMES_FIELD = "outcome"
IC_WORKFLOW = "intermediate_care"


@dataclass(frozen=True)
class MetricsContext:
    codes: CodeSetRegistry
    discharge: DischargeConfig
    ic: IcConfig
    ic_outcomes: tuple[str, ...]


def metrics_context(
    settings: Settings, codes: CodeSetRegistry | None = None, ic_outcomes: tuple[str, ...] = ()
) -> MetricsContext:
    return MetricsContext(
        codes=codes or CodeSetRegistry.from_directory(settings.pathways_dir / "codelists"),
        discharge=load_discharge_config(settings.pathways_dir),
        ic=ic_config(settings.pathways_dir / "config"),
        ic_outcomes=ic_outcomes,
    )


def context_for(
    settings: Settings, catalogue: PathwayCatalogue, codes: CodeSetRegistry | None = None
) -> MetricsContext:
    """The context with the IC outcome list read from the loaded pathway."""
    ic = catalogue.latest(IC_WORKFLOW)
    outcomes = ic.spec.fields[IC_OUTCOMES_FIELD].choices if ic else ()
    return metrics_context(settings, codes, ic_outcomes=outcomes)
