"""Content negotiation: HomeFirst answers FHIR in JSON only (`application/fhir+json`).

`_format` may ask for JSON (`json`, `application/json`, `application/fhir+json`); anything else
(XML, Turtle...) is a 406. Without `_format`, an `Accept` header that takes no JSON is a 406 too;
no `Accept`, `*/*` or `application/*` is JSON.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from app.fhir.errors import FhirError
from app.fhir.systems import FHIR_JSON

JSON_FORMATS = frozenset({"json", "application/json", FHIR_JSON})
JSON_RANGES = frozenset({FHIR_JSON, "application/json", "application/*", "*/*", "json"})
FORMAT_DOC = "Response format: json (or application/json, application/fhir+json); XML is a 406"


def negotiate(
    request: Request,
    format_: Annotated[
        str | None, Query(alias="_format", max_length=64, description=FORMAT_DOC)
    ] = None,
) -> None:
    """A dependency: refuses (406) a request for anything but JSON."""
    if format_ is not None:
        if format_.split(";", 1)[0].strip().lower() not in JSON_FORMATS:
            raise FhirError(
                f"_format {format_!r} is not served: this server answers JSON only",
                status=406,
            )
        return
    accept = request.headers.get("accept")
    if accept and not any(_media(part) in JSON_RANGES for part in accept.split(",")):
        raise FhirError(
            "This server answers application/fhir+json only; Accept names no JSON type",
            status=406,
        )


def _media(part: str) -> str:
    return part.split(";", 1)[0].strip().lower()


JsonOnly = Depends(negotiate)


def fhir_response(resource: BaseModel, headers: dict[str, Any] | None = None) -> Response:
    """A validated resource as its FHIR JSON (the model's own serialisation)."""
    return Response(resource.model_dump_json(), media_type=FHIR_JSON, headers=headers)
