"""The CapabilityStatement (`GET /fhir/R4/metadata`): exactly what this server does.

Read and search-type for Encounter, EpisodeOfCare, Task and Flag, each with the search
parameters listed here (a test holds this list to the routes' own parameters), and read of
StructureDefinition for HomeFirst's extension. Search handling is strict: an unknown or
unsupported parameter, modifier or prefix is a 400 OperationOutcome, never ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from app.fhir import statuses
from app.fhir.systems import DRD_EXTENSION as DRD
from app.fhir.systems import FHIR_JSON, FHIR_VERSION, PROFILES

SP = "http://hl7.org/fhir/SearchParameter"
PATIENT_DOC = (
    "Chained to the NHS number only: patient.identifier=https://fhir.nhs.uk/Id/nhs-number|"
    "<NHS number> (or |<NHS number>, or the bare number); comma-separated for any of several"
)
DATE_DOC = (
    "Prefixes eq, gt, lt, ge, le; repeat for a range. ge/gt: the period ends at or after / after "
    "the value (or goes on); le/lt: it began by the end of / before the value; eq: it lies "
    "within the value. A date without a zone is a Europe/London date."
)
RESULT_PARAMETERS = ("_count", "_format", "_cursor")  # paging and format, not filters


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    definition: str | None
    documentation: str

    def query_name(self) -> str:
        """The name a client writes in the query string."""
        return "patient.identifier" if self.name == "patient" else self.name


def _status(resource: str, codes: tuple[str, ...], standard: bool = True) -> Param:
    definition = f"{SP}/{resource}-status" if standard else None
    return Param("status", "token", definition, f"Any of (comma-separated): {', '.join(codes)}")


_UPDATED = Param(
    "_lastUpdated", "date", f"{SP}/Resource-lastUpdated", "When the case last changed. " + DATE_DOC
)
SEARCHES: dict[str, tuple[Param, ...]] = {
    "Encounter": (
        Param("patient", "reference", f"{SP}/clinical-patient", PATIENT_DOC),
        _status("Encounter", statuses.ENCOUNTER_STATUSES),
        Param("date", "date", f"{SP}/clinical-date", "The spell's period. " + DATE_DOC),
        _UPDATED,
    ),
    "EpisodeOfCare": (
        Param("patient", "reference", f"{SP}/clinical-patient", PATIENT_DOC),
        _status("EpisodeOfCare", statuses.EPISODE_STATUSES),
        Param("date", "date", f"{SP}/clinical-date", "The episode's period. " + DATE_DOC),
        _UPDATED,
    ),
    "Task": (
        Param("patient", "reference", f"{SP}/Task-patient", PATIENT_DOC),
        _status("Task", statuses.TASK_STATUSES),
        Param("period", "date", f"{SP}/Task-period", "executionPeriod (open work). " + DATE_DOC),
        _UPDATED,
    ),
    "Flag": (
        Param("patient", "reference", f"{SP}/clinical-patient", PATIENT_DOC),
        _status("Flag", statuses.FLAG_STATUSES, standard=False),
        Param("date", "date", f"{SP}/clinical-date", "The escalation's period. " + DATE_DOC),
        _UPDATED,
    ),
}
DATE_PARAMETER = {resource: params[2].name for resource, params in SEARCHES.items()}

REST_DOCUMENTATION = (
    "Read and search only. Authentication: Authorization: Bearer <token> (a HomeFirst API "
    "token). Results are limited to cases the caller's organisation owns or shares, and to the "
    "caller's need-to-know grant fhir.read (a grant without identifiers masks the patient "
    "reference and may not search by NHS number). Search handling is strict: an unknown or "
    "unsupported parameter, modifier or prefix is refused with a 400 OperationOutcome. Paging: "
    "_count (capped at the server's page size; 0 gives the total only) and the opaque _cursor "
    "carried by the Bundle's next and previous links. JSON only: _format=xml or an Accept "
    "without JSON is a 406. Every read is recorded in the access audit."
)


def capability_statement(base_url: str, version: str) -> CapabilityStatement:
    resources: list[dict[str, Any]] = [
        {
            "type": resource,
            "profile": PROFILES[resource],
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "versioning": "versioned",
            "readHistory": False,
            "searchParam": [_param(p) for p in params],
        }
        for resource, params in SEARCHES.items()
    ]
    resources.append(
        {
            "type": "StructureDefinition",
            "documentation": f"HomeFirst's extension only: {DRD}",
            "interaction": [{"code": "read"}],
        }
    )
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-12-03",
            "publisher": "HomeFirst",
            "kind": "instance",
            "software": {"name": "HomeFirst", "version": version},
            "implementation": {
                "description": "HomeFirst discharge, CHC and intermediate-care cases as FHIR R4",
                "url": base_url,
            },
            "fhirVersion": FHIR_VERSION,
            "format": [FHIR_JSON, "json"],
            "rest": [
                {
                    "mode": "server",
                    "documentation": REST_DOCUMENTATION,
                    "security": {"cors": False, "description": "Bearer tokens, as the API"},
                    "resource": resources,
                }
            ],
        }
    )


def _param(param: Param) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": param.name,
        "type": param.type,
        "documentation": param.documentation,
    }
    if param.definition:
        found["definition"] = param.definition
    return found
