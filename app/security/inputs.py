"""Checks on every API request's inputs before its route runs (a router-wide dependency).

- An unknown query parameter is a 422, not silently ignored: a misspelt filter (`?stat=open`)
  must not quietly widen a list of patients.
- An integer in the query or path (a database id, a page size) beyond what the database can
  hold is a 422, never an overflow inside the database driver.
- A date or date-time in the query or path must be written as ISO 8601 (`2026-03-31`,
  `2026-03-31T14:30:00Z`): pydantic would otherwise read `?to=1.5e9` as a Unix timestamp.
- A date or date-time in the query or path must fall between 1900-01-01 and 2199-12-31
  (`app.timeutil.EARLIEST_DATE`, `LATEST_DATE`): date arithmetic on `0001-01-01` or
  `9999-12-31` (a day either side, a time zone) leaves what Python can hold.
- No text may carry a NUL character or an unpaired surrogate, in the query, the path, a header,
  a JSON body or a form: PostgreSQL cannot store either (the driver raises), and neither has a
  place in clinical text. Nor may it carry another control character (`app.security.text`):
  none at all in a query or path parameter (one line each); none but tab, line feed and
  carriage return in the text of a JSON body or a form. A field that is one line (a name, a
  code) refuses those three too, by its own type: `SingleLine`, a pattern, a pathway field
  other than `text`, or a fixed set of keys.

Request bodies are `RequestModel`s: unknown fields refused, booleans and integers strict (`0` is
not `false`, `true` is not `1`, `"3"` is not `3`).

What a route accepts is read from its own OpenAPI description (FastAPI's public `get_openapi`,
given the route as included: `fastapi.routing.iter_route_contexts`), once per application and
route: its query and path parameters with their types and formats, and whether it takes a body.
The check therefore accepts exactly the query parameters the API documents, whether a route
declares them one by one or as a query-parameter model. A route left out of the API description
(`include_in_schema=False`) is taken to declare no query parameter at all.
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    TypeAdapter,
    ValidationError,
)

from app.security.text import control_character, control_message, may_hide_control
from app.timeutil import DATE_RANGE_MSG, EARLIEST_DATE, LATEST_DATE, in_date_range

MAX_ID = 2**63 - 1  # BIGINT on PostgreSQL, INTEGER on SQLite
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?"
)
DATE_MSG = "Input should be a date written YYYY-MM-DD"
DATETIME_MSG = "Input should be an ISO 8601 date-time, e.g. 2026-03-31T14:30:00Z"
MAX_ERRORS = 20
# OpenAPI string formats (what pydantic writes for `datetime`, `AwareDatetime`, `date`...) -> kind
FORMATS = {"date-time": "datetime", "date": "date"}


_DATETIME = TypeAdapter(datetime)  # pydantic's own (lax) reading of a date-time


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, str) and ISO_DATETIME.fullmatch(value.strip()):
        # Parsed here (by pydantic, as before, in lax mode), so a strict model, which takes no
        # text for a date-time, accepts it.
        try:
            value = _DATETIME.validate_python(value)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"]) from None
    if not isinstance(value, datetime):
        raise ValueError(
            "must be an ISO 8601 date-time with a time zone, e.g. 2026-03-31T14:30:00Z"
        )
    if not in_date_range(value.date()):
        raise ValueError(DATE_RANGE_MSG)
    return value


# A date-time in a request body: ISO 8601 text only (pydantic alone would take a number as a
# Unix timestamp), with a time zone, within the dates the service accepts.
IsoAwareDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]


def _single_line(value: str) -> str:
    char = control_character(value, single_line=True)
    if char is not None:
        raise ValueError(f"Text {control_message(char)}")
    return value


# A name (a display name, a label): one line, so no tab, line feed or carriage return either.
# (The input checks refuse every other control character in every string of a body.)
SingleLine = Annotated[str, AfterValidator(_single_line)]


class RequestModel(BaseModel):
    """The base of every request body (an architecture test holds every route to it).

    `strict`: a boolean is `true` or `false` only (not `0`, not `"true"`), an integer a JSON
    integer only (not `true`, not `"3"`, not `3.0`): a client's mistake is refused, never
    guessed at. FastAPI validates the parsed JSON in pydantic's Python mode, where strict also
    refuses text for a date-time: `IsoAwareDatetime` parses the text itself first.
    `extra="forbid"`: an unknown (misspelt) field is refused, not ignored."""

    model_config = ConfigDict(extra="forbid", strict=True)


@dataclass(frozen=True)
class _RouteInputs:
    query: frozenset[str]
    dates: dict[str, str]  # parameter name -> "date" or "datetime"
    integers: frozenset[str]  # query and path parameters that are integers
    has_body: bool


# A route that cannot be told (not in the API description, or no route in the request's scope):
# no query parameter is known, and its body is looked into.
UNDESCRIBED = _RouteInputs(frozenset(), {}, frozenset(), has_body=True)

# Per application (weakly held), per route (by id: routes do not hash).
_described: weakref.WeakKeyDictionary[Any, dict[int, _RouteInputs]] = weakref.WeakKeyDictionary()


async def check_inputs(request: Request) -> None:
    spec = _spec(request)
    errors: list[dict[str, Any]] = []

    for name, value in request.query_params.multi_items():
        if name not in spec.query:
            errors.append(_error(("query", name), "Unknown query parameter", "extra_forbidden"))
        errors += _value_errors(("query", name), value, spec)
    for name, raw in request.path_params.items():
        errors += _value_errors(("path", name), str(raw), spec)
    for name, value in request.headers.items():
        # NUL only: a header is Latin-1 to ASGI, so UTF-8 text in one would show C1 characters.
        if "\x00" in value:
            errors += _text_errors(("header", name), value)
    if spec.has_body and not errors:
        errors += await _body_errors(request)
    if errors:
        raise RequestValidationError(errors[:MAX_ERRORS])


def _value_errors(loc: tuple[str, str], value: str, spec: _RouteInputs) -> list[dict[str, Any]]:
    name = loc[1]
    out = _text_errors(loc, value, single_line=True)
    if name in spec.dates:
        out += _date_errors(loc, value, spec.dates[name])
    if name in spec.integers and len(value.strip()) > 18:
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            number = None  # not a number: the route's own validation answers
        if number is not None and number.is_finite() and abs(number) > MAX_ID:
            out.append(_error(loc, f"Input should be at most {MAX_ID}", "less_than_equal"))
    return out


async def _body_errors(request: Request) -> list[dict[str, Any]]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()  # already parsed (and cached) for the route
        out: list[dict[str, Any]] = []
        for name, value in form.multi_items():
            text = value if isinstance(value, str) else (value.filename or "")
            out += _text_errors(("body", name), text)
        return out
    raw = await request.body()  # already read (and cached) for the route
    if not may_hide_control(raw):
        return []
    try:
        document = json.loads(raw)
    except ValueError:
        return []  # not JSON: the route's own parsing answers
    return list(_walk(("body",), document))


def _walk(loc: tuple[str | int, ...], value: Any) -> Any:
    if isinstance(value, str):
        yield from _text_errors(loc, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _text_errors((*loc, key), key)
            yield from _walk((*loc, key), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk((*loc, index), item)


def _text_errors(
    loc: tuple[str | int, ...], value: str, *, single_line: bool = False
) -> list[dict[str, Any]]:
    if "\x00" in value:
        return [_error(loc, "Text may not contain a NUL character", "string_nul")]
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return [_error(loc, "Text must be valid Unicode (an unpaired surrogate)", "string_unicode")]
    char = control_character(value, single_line=single_line)
    if char is not None:
        return [_error(loc, f"Text {control_message(char)}", "string_control")]
    return []


def _date_errors(loc: tuple[str, str], value: str, kind: str) -> list[dict[str, Any]]:
    pattern, message = (ISO_DATE, DATE_MSG) if kind == "date" else (ISO_DATETIME, DATETIME_MSG)
    text = value.strip()
    if not pattern.fullmatch(text):
        return [_error(loc, message, f"{kind}_format")]
    # The year is enough: a date of a month or day that does not exist is pydantic's to refuse.
    if not EARLIEST_DATE.year <= int(text[:4]) <= LATEST_DATE.year:
        return [_error(loc, f"Input {DATE_RANGE_MSG}", "date_out_of_range")]
    return []


def _error(loc: tuple[str | int, ...], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": tuple(map(printable, loc)), "msg": msg, "type": kind, "input": None}


def printable(part: str | int) -> str | int:
    """A location part safe to send back (an unpaired surrogate cannot be encoded)."""
    if isinstance(part, int):
        return part
    return part.encode("utf-8", "backslashreplace").decode("utf-8")


def _spec(request: Request) -> _RouteInputs:
    """What the request's route accepts, worked out at its first request in this application."""
    route = request.scope.get("route")  # the matched route, which FastAPI puts in the scope
    if isinstance(route, RouteContext):
        route = route.original_route
    if not isinstance(route, APIRoute):
        return UNDESCRIBED
    known = _described.setdefault(request.app, {})
    spec = known.get(id(route))
    if spec is None:
        spec = known[id(route)] = describe(request.app.routes, route)
    return spec


def describe(routes: Any, route: APIRoute) -> _RouteInputs:
    """The inputs `route` accepts as `routes` (an application's) serve it: from the OpenAPI
    description of each inclusion of it (with the parameters its routers' dependencies add)."""
    inclusions = [c for c in iter_route_contexts(routes) if c.original_route is route]
    document = get_openapi(title="inputs", version="0", routes=inclusions or [route])
    operations = [op for item in document.get("paths", {}).values() for op in item.values()]
    if not operations:
        return UNDESCRIBED
    query: set[str] = set()
    dates: dict[str, str] = {}
    integers: set[str] = set()
    for operation in operations:
        for parameter in operation.get("parameters", []):
            name, where = parameter["name"], parameter["in"]
            if where not in ("query", "path"):
                continue
            if where == "query":
                query.add(name)
            kinds = set(_kinds(parameter.get("schema", {})))
            if "datetime" in kinds:
                dates[name] = "datetime"
            elif "date" in kinds:
                dates[name] = "date"
            if "integer" in kinds:
                integers.add(name)
    return _RouteInputs(
        frozenset(query),
        dates,
        frozenset(integers),
        has_body=any("requestBody" in op for op in operations),
    )


def _kinds(schema: Any) -> Iterator[str]:
    """What a parameter's JSON schema (or a schema it unites, or that of its items) says its
    values are: "integer", "date", "datetime"."""
    if not isinstance(schema, dict):
        return
    types = schema.get("type")
    if types == "integer" or (isinstance(types, list) and "integer" in types):
        yield "integer"
    if schema.get("format") in FORMATS:
        yield FORMATS[schema["format"]]
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, ()):
            yield from _kinds(part)
    yield from _kinds(schema.get("items"))
