"""The OpenAPI schema documents every problem answer, so clients (and the fuzzer's conformance
checks) know each error's status, media type and body.

Routes declare the answers particular to them (403, 409, 412, 428...). This adds the ones the
service gives everywhere: 401 and 429 wherever a bearer token is needed, 413 wherever there is
a body, 422 wherever there is input, 404 wherever there is a path parameter, and 500. Every
4xx/5xx documented as `application/problem+json` gets the `Problem` schema, and FastAPI's
default 422 body (which this service never sends) is replaced by it.

An `If-Match` header is required wherever an operation takes one (the service answers 428
without it, so the route declares it optional to FastAPI, which would otherwise answer 422):
the document says so, with 412 and 428. (The input checks read routes' own OpenAPI
descriptions, not this document: they see no header parameter either way.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details. `code` is stable; other members vary by problem.",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": True,
}
GENERIC = {
    400: "The body could not be read (for example, not UTF-8)",
    401: "No valid bearer token (missing, unknown, expired or revoked)",
    404: "Not found",
    413: "The request body is larger than allowed",
    422: "Invalid request: every problem listed in `errors`",
    429: "Rate limit for this token reached; see `Retry-After`",
    500: "Unexpected error (no details are given)",
}
IF_MATCH_SCHEMA = {
    "type": "string",
    "maxLength": 40,
    "pattern": '^"(0|[1-9][0-9]{0,17})"$',
    "description": 'Exactly the ETag the service sent, e.g. "3"; anything else is a 412.',
}
IF_MATCH_ANSWERS = {
    412: "If-Match is not the case's current ETag (`stale_case`), or not an ETag as the service "
    "sends them (`if_match_invalid`: weak, unquoted, padded, a list or `*`)",
    428: "If-Match is missing (`precondition_required`)",
}
RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}
}


def install_problem_docs(application: FastAPI) -> None:
    original: Callable[[], dict[str, Any]] = application.openapi

    def openapi() -> dict[str, Any]:
        if application.openapi_schema is None:
            application.openapi_schema = document_problems(original())
        return application.openapi_schema

    application.openapi = openapi  # type: ignore[method-assign]


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            _document(operation)
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in components and f'/{unused}"' not in json.dumps(schema):
            del components[unused]
    return schema


def _document(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    params = operation.get("parameters", [])
    wanted = {500}
    if operation.get("security"):
        wanted |= {401, 429}
    if operation.get("requestBody"):
        wanted |= {400, 413, 422}
    if params:
        wanted.add(422)
    if any(p.get("in") == "path" for p in params):
        wanted.add(404)
    for param in params:
        if param.get("in") == "header" and str(param.get("name")).lower() == "if-match":
            param["required"] = True
            param["schema"] = dict(IF_MATCH_SCHEMA)
            for code, text in IF_MATCH_ANSWERS.items():
                answer = responses.setdefault(str(code), {})
                answer["description"] = text
                answer["content"] = {PROBLEM_JSON: {}}  # given the Problem schema below
    generic = {str(code) for code in wanted}
    for code in wanted:
        responses.setdefault(str(code), {"description": GENERIC[code]})
    for status, response in responses.items():
        if not status.isdigit() or int(status) < 400:
            continue
        if status == "422" or status in generic or PROBLEM_JSON in response.get("content", {}):
            response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
        if status == "429":
            response.setdefault("headers", {}).update(RETRY_AFTER)
