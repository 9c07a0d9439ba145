"""The HTTP pieces every route shares: problem answers for the OpenAPI schema, answering a
stored (idempotent) response, the keyset cursor codec, and the access audit of patient-data
reads. Routes import these from here, never from each other (the cursor codec itself lives in
`app.cursors`, so services can use it without importing HTTP code)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.actor import Actor
from app.cursors import decode_cursor, encode_cursor
from app.idempotency.service import StoredResponse
from app.timeutil import utcnow

__all__ = ["PROBLEM", "decode_cursor", "encode_cursor", "log_read", "respond"]

PROBLEM: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in {
        401: "No valid bearer token",
        403: "Your role may not do this",
        404: "No such case",
        409: "Not allowed in the case's current state, or refused by a rule (every reason given)",
        412: "The ETag in If-Match is stale: reload the case",
        422: "Invalid data",
        428: "If-Match is missing",
    }.items()
}


def respond(stored: StoredResponse) -> JSONResponse:
    """A stored use-case answer as HTTP (a replayed one says so)."""
    headers = dict(stored.headers)
    if stored.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)


def log_read(request: Request, db: Session, actor: Actor, case_ids: Sequence[int]) -> None:
    """Record that `actor` read these cases' data through this endpoint (the access audit)."""
    endpoint = request.url.path
    for name, value in request.path_params.items():  # /cases/42 -> /cases/{case_id}
        endpoint = endpoint.replace(f"/{value}", f"/{{{name}}}", 1)
    audit.record_access(
        db,
        actor=actor,
        method=request.method,
        endpoint=endpoint,
        query=request.url.query,
        case_ids=case_ids,
        now=utcnow(),
    )
