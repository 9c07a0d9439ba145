"""How the FHIR operations appear in /openapi.json: FHIR JSON answers, OperationOutcome errors.

The API-wide documentation (`app.security.openapi`) describes every error as a problem
document; under /fhir the service answers OperationOutcome instead, so once that has run this
rewrites each /fhir operation's error answers (and adds the 400 and 406 every FHIR operation may
give). Resource schemas are kept to what a client can rely on (the resource type and the
elements every answer carries); `fhir.resources` validates the rest before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

from app.fhir.errors import PREFIX
from app.fhir.systems import FHIR_JSON

OUTCOME_REF = {"$ref": "#/components/schemas/OperationOutcome"}
OUTCOME_SCHEMA: dict[str, Any] = {
    "title": "OperationOutcome",
    "type": "object",
    "description": "FHIR R4 OperationOutcome: why the request was refused.",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"type": "string"},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                },
            },
        },
    },
}
EXTRA_ERRORS = {
    400: "A search parameter, value, prefix or cursor this server does not take (strict)",
    406: "A format other than JSON was asked for (_format or Accept)",
}


class FhirResponse(Response):
    media_type = FHIR_JSON


def resource_schema(resource: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["resourceType", *required],
        "properties": {"resourceType": {"type": "string", "enum": [resource]}},
    }


def answers(
    resource: str, description: str, *required: str, granted: bool = True
) -> dict[int | str, Any]:
    """The `responses` of a FHIR route: its resource as FHIR JSON, and for a route behind a
    grant its 403 (declared here, so the access documentation keeps it an OperationOutcome)."""
    found: dict[int | str, Any] = {
        200: {
            "description": description,
            "content": {FHIR_JSON: {"schema": resource_schema(resource, required)}},
        }
    }
    if granted:
        found[403] = {"description": "Your roles do not include this (see x-access)"}
    return found


def install_fhir_docs(application: FastAPI) -> None:
    inner: Callable[[], dict[str, Any]] = application.openapi

    def openapi() -> dict[str, Any]:
        first = application.openapi_schema is None
        schema = inner()
        if first:
            document_outcomes(schema)
        return schema

    application.openapi = openapi  # type: ignore[method-assign]


def document_outcomes(schema: dict[str, Any]) -> None:
    schema.setdefault("components", {}).setdefault("schemas", {})["OperationOutcome"] = (
        OUTCOME_SCHEMA
    )
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(PREFIX):
            continue
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            responses.pop("422", None)  # bad input is a 400 here
            for code, text in EXTRA_ERRORS.items():
                responses.setdefault(str(code), {"description": text})
            for status, answer in responses.items():
                if status.isdigit() and int(status) >= 400:
                    answer["content"] = {FHIR_JSON: {"schema": OUTCOME_REF}}
