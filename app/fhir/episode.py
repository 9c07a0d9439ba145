"""EpisodeOfCare (UK Core): a CHC case or an intermediate-care episode.

type: HomeFirst's episode-type code (`chc`, or `intermediate-care`), and for intermediate care
the model delivered (or, before care starts, the model planned) in HomeFirst's model code
system. period: from the case's opening to the end the episode source computes in SQL (the same
value a `date` search compares). managingOrganization: the organisation that owns the case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fhir.resources.R4B.episodeofcare import EpisodeOfCare

from app.fhir import references as ref
from app.fhir.statuses import CHC, INTERMEDIATE_CARE, episode_status
from app.fhir.systems import EPISODE_TYPE_SYSTEM, IC_MODEL_SYSTEM
from app.ic.episode import label as model_label
from app.models import Case

EPISODE_TYPES = {
    CHC: ("chc", "NHS Continuing Healthcare"),
    INTERMEDIATE_CARE: ("intermediate-care", "Intermediate care"),
}
MODEL_CODES = {
    "crisis_response": "crisis-response",
    "home_based_ic": "home-based-ic",
    "reablement": "reablement",
    "bed_based_ic": "bed-based-ic",
}


def build(case: Case, period_end: datetime | None, *, identifiers: bool) -> EpisodeOfCare:
    attributes = case.attributes or {}
    code, display = EPISODE_TYPES.get(case.workflow_key, (case.workflow_key, None))
    types: list[dict[str, Any]] = [{"coding": [ref.coding(EPISODE_TYPE_SYSTEM, code, display)]}]
    model = attributes.get("model") or attributes.get("planned_model")
    if case.workflow_key == INTERMEDIATE_CARE and model in MODEL_CODES:
        text = model_label(model)
        types.append(
            {"coding": [ref.coding(IC_MODEL_SYSTEM, MODEL_CODES[model], text.capitalize())]}
        )
    resource: dict[str, Any] = {
        "resourceType": "EpisodeOfCare",
        "id": str(case.id),
        "meta": ref.meta("EpisodeOfCare", case.version, case.updated_at),
        "status": episode_status(case.workflow_key, case.state, case.is_open),
        "type": types,
        "patient": ref.patient(case.patient_ref, identifiers=identifiers),
        "managingOrganization": ref.organisation(case.organisation),
        "period": ref.period(case.opened_at, period_end),
    }
    return EpisodeOfCare.model_validate(resource)
