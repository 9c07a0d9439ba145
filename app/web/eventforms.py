"""HTML forms for case events, generated from the pathway definition.

A transition names the fields an event requires and accepts; each field has a type (and choices,
a code list, a maximum length). That is enough to build the event's form and to read a submitted
form back into typed event data, so a new workflow gets working forms without new templates.

Two pure steps, no web framework and no database:

- `form_for` describes one event's form: its fields in the transition's order (required first),
  each with a label, hint, input kind, choices (a code list's codes with the labels in force on
  the day) and current value; then the clinical time and the reason every event may carry.
- `parse_submission` reads the submitted strings back into event data (dates, London local
  date-times as UTC, booleans, whole numbers), or returns a plain-English message per field in
  the NHS design system's error-message style. It never raises, whatever it is sent.

The engine still checks everything again when the event is fired (`app.engine.fields`); these
checks are there to give people a clear message next to the field they need to correct.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from annotated_types import MaxLen

from app.calc.nhs_number import is_valid_nhs_number, normalise_nhs_number
from app.cases.schemas import EventCreate
from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
from app.engine.catalogue import PathwayCatalogue
from app.engine.fields import INT_MAX, INT_MIN
from app.engine.spec import FieldSpec, PathwaySpec, TransitionSpec
from app.engine.timerules import TimePolicy
from app.errors import NotFound
from app.security.text import control_character
from app.timeutil import EARLIEST_DATE, LATEST_DATE, LONDON, in_date_range

InputKind = Literal["text", "textarea", "date", "datetime-local", "yes-no", "select", "checkboxes"]
Raw = Mapping[str, str | list[str]]

# Names of the inputs every event form has besides its fields. Pathway field names match
# `^[a-z][a-z0-9_]*$`, so a name with a hyphen can never collide with one.
CLINICAL_TIME = "occurred-at"
REASON = "event-reason"
# The three inputs of an NHS date input, named as its `namePrefix` option names them.
DATE_PARTS = ("day", "month", "year")
YES, NO = "yes", "no"
# Abbreviations written in capitals when a field or choice name becomes a label.
_ABBREVIATIONS = frozenset(
    {"chc", "ctr", "dst", "eoi", "fnc", "gp", "ic", "la", "mdt", "mh", "nhs", "ucr", "tecs"}
)
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,20}")
_LOCAL_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?"
)
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def _reason_max_length() -> int:
    """The longest reason the API takes (`EventCreate.reason`), so the form allows the same."""
    found = [
        m.max_length for m in EventCreate.model_fields["reason"].metadata if isinstance(m, MaxLen)
    ]
    return found[0]


REASON_MAX_LENGTH = _reason_max_length()


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class FormField:
    """One pathway field as an input."""

    name: str
    type: str  # the pathway field type (`string`, `date`, `code`...)
    kind: InputKind
    label: str
    hint: str
    required: bool
    input_id: str
    choices: tuple[Choice, ...] = ()
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    # `numeric` for whole numbers and NHS numbers: the number keypad on a phone or tablet.
    inputmode: str | None = None
    # The current value as the input shows it (a date's is in `parts`, checkboxes' in `selected`).
    value: str = ""
    selected: tuple[str, ...] = ()
    parts: Mapping[str, str] = field(default_factory=dict)
    # The code-list version the choices come from (`delay-reasons-acute@2024-04-30`).
    codelist: str | None = None

    @property
    def anchor(self) -> str:
        """The id an error summary links to: the first input of the field."""
        return f"{self.input_id}-day" if self.kind == "date" else self.input_id

    def part_name(self, part: str) -> str:
        return f"{self.name}[{part}]"


@dataclass(frozen=True)
class ClinicalTimeInput:
    """When the event happened, in London local time; blank means now."""

    name: str
    input_id: str
    label: str
    hint: str
    value: str = ""


@dataclass(frozen=True)
class ReasonInput:
    """Why: needed when the clinical time is backdated beyond the rule (and by some rules)."""

    name: str
    input_id: str
    label: str
    hint: str
    max_length: int
    value: str = ""


@dataclass(frozen=True)
class EventForm:
    workflow: str
    version: int
    event: str
    title: str
    description: str
    fields: tuple[FormField, ...]
    clinical_time: ClinicalTimeInput
    reason: ReasonInput
    # Older than this counts as backdated and needs a reason (the engine's TimePolicy).
    backdate_after: timedelta
    future_skew: timedelta
    on: date

    def field(self, name: str) -> FormField:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def anchors(self) -> dict[str, str]:
        """Input name -> the id an error summary links to, in the order of the form."""
        out = {f.name: f.anchor for f in self.fields}
        out[self.clinical_time.name] = self.clinical_time.input_id
        out[self.reason.name] = self.reason.input_id
        return out


@dataclass(frozen=True)
class ParsedEvent:
    """A submission read into typed event data, ready for the engine."""

    event: str
    data: dict[str, Any]
    occurred_at: datetime | None
    reason: str | None
    backdated: bool

    def json_data(self) -> dict[str, Any]:
        """The data as the API's JSON body carries it (dates and date-times as ISO 8601)."""
        return {
            k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in self.data.items()
        }

    def event_create(self) -> EventCreate:
        return EventCreate(
            event=self.event,
            data=self.json_data(),
            occurred_at=self.occurred_at,
            reason=self.reason,
        )


@dataclass(frozen=True)
class FieldErrors:
    """What to correct: input name -> message, in the order of the form, and what was sent."""

    event: str
    errors: dict[str, str]
    values: dict[str, str]


# -- building a form -------------------------------------------------------------------------


def form_for(
    pathways: PathwayCatalogue | PathwaySpec,
    workflow: str,
    version: int,
    event: str,
    *,
    codes: CodeSetRegistry,
    on: date,
    state: str | None = None,
    values: Mapping[str, Any] | None = None,
    raw: Raw | None = None,
    time_policy: TimePolicy | None = None,
) -> EventForm:
    """The form for `event` of pathway `workflow` version `version`.

    `state` narrows the event to the transitions out of that state (an event such as `assess`
    may take different fields from different states); as the engine does, the form offers every
    field those transitions take and requires those they all require. `values` are current
    typed values (the case's attributes) to show; `raw` a submission to show again as it was
    typed (after an error, or to re-apply it). Code-list choices are the list in force on `on`.
    Raises `NotFound` for a pathway version or event that does not exist.
    """
    spec = _spec(pathways, workflow, version)
    transitions = [
        t for t in spec.transitions if t.trigger == event and (state is None or state in t.source)
    ]
    if not transitions:
        where = f" from {state!r}" if state is not None else ""
        raise NotFound(f"pathway {workflow} version {version} has no event {event!r}{where}")
    policy = time_policy or TimePolicy()
    names = list(dict.fromkeys(f for t in transitions for f in t.data_fields))
    required = set.intersection(*(set(t.requires) for t in transitions))
    ordered = [n for n in names if n in required] + [n for n in names if n not in required]
    typed = values or {}
    fields = tuple(
        _form_field(event, name, spec.fields[name], name in required, codes, on, typed, raw)
        for name in ordered
    )
    return EventForm(
        workflow=spec.key,
        version=spec.version,
        event=event,
        title=humanise(event),
        description=_description(transitions),
        fields=fields,
        clinical_time=ClinicalTimeInput(
            name=CLINICAL_TIME,
            input_id=f"{event}-{CLINICAL_TIME}",
            label="When did this happen? (optional)",
            hint="Leave blank if it happened just now. UK time.",
            value=_raw_one(raw, CLINICAL_TIME) if raw is not None else "",
        ),
        reason=ReasonInput(
            name=REASON,
            input_id=f"{event}-{REASON}",
            label="Reason (optional)",
            hint=(
                f"Needed if it happened more than {describe_duration(policy.backdate_after)} "
                "ago, and for changes some rules ask a reason for."
            ),
            max_length=REASON_MAX_LENGTH,
            value=_raw_one(raw, REASON) if raw is not None else "",
        ),
        backdate_after=policy.backdate_after,
        future_skew=policy.future_skew,
        on=on,
    )


def _spec(pathways: PathwayCatalogue | PathwaySpec, workflow: str, version: int) -> PathwaySpec:
    if isinstance(pathways, PathwaySpec):
        if (pathways.key, pathways.version) != (workflow, version):
            raise NotFound(f"pathway {workflow} version {version} is not this one")
        return pathways
    loaded = pathways.get(workflow, version)
    if loaded is None:
        raise NotFound(f"pathway {workflow} version {version} is not loaded")
    return loaded.spec


def _description(transitions: Iterable[TransitionSpec]) -> str:
    texts = dict.fromkeys(" ".join(t.description.split()) for t in transitions if t.description)
    return " ".join(texts)


def _form_field(
    event: str,
    name: str,
    spec: FieldSpec,
    required: bool,
    codes: CodeSetRegistry,
    on: date,
    values: Mapping[str, Any],
    raw: Raw | None,
) -> FormField:
    label, hint = _label_and_hint(name, spec)
    choices: tuple[Choice, ...] = ()
    codelist = None
    if spec.type == "enum":
        choices = tuple(Choice(c, spec.labels.get(c) or humanise(c)) for c in spec.choices)
    elif spec.type in ("code", "codes"):
        assert spec.codelist is not None  # noqa: S101 - guaranteed by FieldSpec validation
        try:
            listed = codes.current(spec.codelist, on)
        except CodeSetNotFound:
            hint = _join(hint, f"No version of the {spec.codelist} list is in force on {on}.")
        else:
            choices = tuple(Choice(e.code, e.label) for e in listed.codes)
            codelist = f"{listed.key}@{listed.version}"
    kind = _KINDS[spec.type]
    hint = _join(hint, _type_hint(spec, kind))
    value, parts = _shown_value(name, spec, kind, values, raw)
    selected = _shown_selection(name, values, raw) if kind == "checkboxes" else ()
    return FormField(
        name=name,
        type=spec.type,
        kind=kind,
        label=label,
        hint=hint,
        required=required,
        input_id=f"{event}-{name}",
        choices=choices,
        max_length=spec.max_length if kind in ("text", "textarea") else None,
        minimum=spec.minimum,
        maximum=spec.maximum,
        inputmode="numeric" if spec.type in ("integer", "nhs_number") else None,
        value=value,
        parts=parts,
        selected=selected,
        codelist=codelist,
    )


_KINDS: dict[str, InputKind] = {
    "string": "text",
    "nhs_number": "text",
    "integer": "text",
    "text": "textarea",
    "date": "date",
    "datetime": "datetime-local",
    "boolean": "yes-no",
    "enum": "select",
    "code": "select",
    "codes": "checkboxes",
}


def field_label(name: str, spec: FieldSpec) -> str:
    """How a pathway field is named on a page (in a form, in the case's facts)."""
    return _label_and_hint(name, spec)[0]


def _label_and_hint(name: str, spec: FieldSpec) -> tuple[str, str]:
    """The field's description is the better label when there is one ("Known to mental health
    services" over "MH known to services"); a closing remark in brackets becomes the hint."""
    text = " ".join(spec.description.split())
    if not text:
        return humanise(name), ""
    found = re.fullmatch(r"(.+?)\s*\(([^()]+)\)", text)
    if found:
        return found.group(1), _sentence(found.group(2))
    return text, ""


def _type_hint(spec: FieldSpec, kind: InputKind) -> str:
    if kind == "date":
        return "For example, 15 3 2026"
    if kind == "datetime-local":
        return "UK time."
    if spec.type == "integer" and (spec.minimum is not None or spec.maximum is not None):
        if spec.maximum is None:
            return f"A whole number, {spec.minimum} or more."
        if spec.minimum is None:
            return f"A whole number, {spec.maximum} or less."
        return f"A whole number from {spec.minimum} to {spec.maximum}."
    if spec.type == "integer":
        return "A whole number."
    return ""


def _shown_selection(name: str, values: Mapping[str, Any], raw: Raw | None) -> tuple[str, ...]:
    """The boxes to tick: what was sent (after an error), else the case's current codes."""
    if raw is not None:
        sent = raw.get(name)
        if isinstance(sent, str):
            return (sent,)
        return tuple(v for v in sent or () if isinstance(v, str))
    current = values.get(name)
    return tuple(str(v) for v in current) if isinstance(current, list) else ()


def _shown_value(
    name: str, spec: FieldSpec, kind: InputKind, values: Mapping[str, Any], raw: Raw | None
) -> tuple[str, dict[str, str]]:
    if kind == "checkboxes":
        return "", {}
    if raw is not None:
        if kind == "date":
            parts = {p: _raw_one(raw, f"{name}[{p}]") for p in DATE_PARTS}
            return "", parts
        return _raw_one(raw, name), {}
    value = values.get(name)
    if value is None:
        return "", {}
    shown = format_value(spec, value)
    if kind == "date":
        return "", _date_parts(shown)
    return shown, {}


def format_value(spec: FieldSpec, value: Any) -> str:
    """A typed value (as event data or a case attribute holds it) as its input shows it:
    a date as YYYY-MM-DD, a date-time in London local time to the minute, a boolean as yes/no.
    A value of the wrong type is shown as text rather than refused: it is only a default."""
    if spec.type == "boolean" and isinstance(value, bool):
        return YES if value else NO
    if spec.type == "date":
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            return value.isoformat()
    if spec.type == "datetime":
        at: object = value
        if isinstance(value, str):
            try:
                at = datetime.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(at, datetime) and at.tzinfo is not None:
            return local_minutes(at)
    return str(value)


def local_minutes(at: datetime) -> str:
    """An aware instant as a `datetime-local` input value: London local time, to the minute
    (a browser refuses seconds the input's default step does not allow)."""
    return at.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def _date_parts(text: str) -> dict[str, str]:
    found = _ISO_DATE.fullmatch(text)
    if not found:
        return {}
    year, month, day = found.groups()
    return {"day": str(int(day)), "month": str(int(month)), "year": year}


# -- reading a submission --------------------------------------------------------------------


def parse_submission(
    form: EventForm, raw: Raw, *, now: datetime | None = None
) -> ParsedEvent | FieldErrors:
    """Read a submitted form into event data, or say what to correct. Never raises.

    Inputs the form does not have are ignored (the CSRF token, the case version). An empty
    optional field is left out of the data. `now` (default: the current time) decides whether
    the clinical time is in the future or backdated.
    """
    now = now or datetime.now(UTC)
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    for f in form.fields:
        try:
            value = _parse_field(f, raw)
        except _Invalid as problem:
            errors[f.name] = problem.message
            continue
        if value is not None:
            data[f.name] = value
    occurred_at = reason = None
    try:
        occurred_at = _parse_clinical_time(form, raw, now)
    except _Invalid as problem:
        errors[CLINICAL_TIME] = problem.message
    try:
        reason = _parse_reason(form, raw)
    except _Invalid as problem:
        errors[REASON] = problem.message
    backdated = occurred_at is not None and occurred_at < now - form.backdate_after
    if backdated and reason is None and REASON not in errors:
        errors[REASON] = (
            f"Enter why this is recorded more than {describe_duration(form.backdate_after)} "
            "after it happened"
        )
    if errors:
        return FieldErrors(form.event, errors, _sent(form, raw))
    return ParsedEvent(form.event, data, occurred_at, reason, backdated)


class _Invalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _one(raw: Raw, name: str, label: str) -> str:
    """The single value sent for an input ("" when none); a repeated input is refused."""
    value = raw.get(name)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        if len(value) > 1:
            raise _Invalid(f"{label} was sent more than once")
        return value[0] if value else ""
    raise _Invalid(f"{label} was not sent as text")


def _raw_one(raw: Raw | None, name: str) -> str:
    """A value to show again: the last one sent, or nothing."""
    value = raw.get(name) if raw is not None else None
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and value and isinstance(value[-1], str):
        return value[-1]
    return ""


def _sent(form: EventForm, raw: Raw) -> dict[str, str]:
    names = [CLINICAL_TIME, REASON]
    for f in form.fields:
        names += [f.part_name(p) for p in DATE_PARTS] if f.kind == "date" else [f.name]
    return {n: _raw_one(raw, n) for n in names if _raw_one(raw, n)}


def _parse_field(f: FormField, raw: Raw) -> Any:
    if f.kind == "date":
        return _parse_date_field(f, raw)
    if f.kind == "checkboxes":
        return _parse_checkboxes(f, raw)
    text = _one(raw, f.name, f.label)
    if f.kind == "textarea":
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.strip()
    if not text:
        if f.required:
            raise _Invalid(_missing(f))
        return None
    if f.kind == "yes-no":
        answer = {YES: True, NO: False}.get(text.lower())
        if answer is None:
            raise _Invalid(f"Select yes or no: {_lower_first(f.label)}")
        return answer
    if f.kind == "select":
        if text not in {c.value for c in f.choices}:
            raise _Invalid(f"{f.label} must be one of the options in the list")
        return text
    if f.kind == "datetime-local":
        return _local_datetime(text, f.label)
    char = control_character(text, single_line=f.kind != "textarea")
    if char is not None:
        what = "special characters" if f.kind == "textarea" else "line breaks or special characters"
        raise _Invalid(f"{f.label} must not contain {what}")
    if f.type == "integer":
        return _whole_number(f, text)
    if f.type == "nhs_number":
        if not is_valid_nhs_number(text):
            raise _Invalid(f"{f.label} must be a 10-digit NHS number, like 943 476 5919")
        return normalise_nhs_number(text)
    if f.max_length is not None and len(text) > f.max_length:
        raise _Invalid(f"{f.label} must be {f.max_length} characters or fewer")
    return text


def _parse_checkboxes(f: FormField, raw: Raw) -> list[str] | None:
    """The ticked codes in the list's order; none ticked leaves the field out."""
    sent = raw.get(f.name)
    ticked = [sent] if isinstance(sent, str) else list(sent or ())
    if not all(isinstance(v, str) for v in ticked):
        raise _Invalid(f"{f.label} was not sent as text")
    ticked = [v.strip() for v in ticked if v.strip()]
    offered = [c.value for c in f.choices]
    if any(v not in offered for v in ticked):
        raise _Invalid(f"{f.label} must be options from the list")
    if not ticked:
        if f.required:
            raise _Invalid(f"Select {_lower_first(f.label)}")
        return None
    return [v for v in offered if v in ticked]


def _missing(f: FormField) -> str:
    what = _lower_first(f.label)
    if f.kind == "yes-no":
        return f"Select yes or no: {what}"
    if f.kind == "select":
        return f"Select {what}"
    return f"Enter {what}"


def _whole_number(f: FormField, text: str) -> int:
    if not _WHOLE_NUMBER.fullmatch(text):
        raise _Invalid(f"{f.label} must be a whole number, like 12")
    number = int(text)
    low = INT_MIN if f.minimum is None else max(f.minimum, INT_MIN)
    high = INT_MAX if f.maximum is None else min(f.maximum, INT_MAX)
    if number < low:
        raise _Invalid(f"{f.label} must be {low} or more")
    if number > high:
        raise _Invalid(f"{f.label} must be {high} or less")
    return number


def _parse_date_field(f: FormField, raw: Raw) -> date | None:
    """An NHS date input's day, month and year; or one YYYY-MM-DD value under the field's own
    name (a client without the three inputs)."""
    whole = _one(raw, f.name, f.label).strip()
    parts = {p: _one(raw, f.part_name(p), f.label).strip() for p in DATE_PARTS}
    if whole and not any(parts.values()):
        found = _ISO_DATE.fullmatch(whole)
        if not found:
            raise _Invalid(f"{f.label} must be a real date, like 15 3 2026")
        year, month, day = found.groups()
        parts = {"day": day, "month": month, "year": year}
    if not any(parts.values()):
        if f.required:
            raise _Invalid(f"Enter {_lower_first(f.label)}")
        return None
    missing = [p for p in DATE_PARTS if not parts[p]]
    if missing:
        raise _Invalid(f"{f.label} must include a {' and '.join(missing)}")
    if not all(re.fullmatch(r"[0-9]{1,4}", v) for v in parts.values()):
        raise _Invalid(f"{f.label} must be a real date, like 15 3 2026")
    if len(parts["year"]) != 4:
        raise _Invalid(f"{f.label} must have a year with 4 numbers, like 2026")
    try:
        day = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except ValueError:
        raise _Invalid(f"{f.label} must be a real date, like 15 3 2026") from None
    if not in_date_range(day):
        raise _Invalid(_range_message(f.label))
    return day


def _local_datetime(text: str, label: str) -> datetime:
    """A `datetime-local` value, read as London local time, as an aware UTC instant."""
    found = _LOCAL_DATETIME.fullmatch(text)
    if not found:
        raise _Invalid(f"{label} must be a real date and time, like 15 3 2026 14:30")
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in found.groups())
    try:
        naive = datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - local, next line
    except ValueError:
        raise _Invalid(f"{label} must be a real date and time, like 15 3 2026 14:30") from None
    if not in_date_range(naive.date()):
        raise _Invalid(_range_message(label))
    local = naive.replace(tzinfo=LONDON)
    at = local.astimezone(UTC)
    # A time in the hour skipped when the clocks go forward does not exist in the UK.
    if at.astimezone(LONDON).replace(tzinfo=None) != naive:
        raise _Invalid(f"{label} is a time that did not happen: the clocks went forward then")
    return at


def _parse_clinical_time(form: EventForm, raw: Raw, now: datetime) -> datetime | None:
    label = "The time it happened"
    text = _one(raw, CLINICAL_TIME, label).strip()
    if not text:
        return None
    at = _local_datetime(text, label)
    if at > now + form.future_skew:
        raise _Invalid("The time it happened must be now or in the past")
    return at


def _parse_reason(form: EventForm, raw: Raw) -> str | None:
    label = "The reason"
    text = _one(raw, REASON, label).replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return None
    if control_character(text, single_line=False) is not None:
        raise _Invalid("The reason must not contain special characters")
    if len(text) > form.reason.max_length:
        raise _Invalid(f"The reason must be {form.reason.max_length} characters or fewer")
    return text


def _range_message(label: str) -> str:
    return f"{label} must be between {EARLIEST_DATE.year} and {LATEST_DATE.year}"


# -- wording ---------------------------------------------------------------------------------


def humanise(name: str) -> str:
    """`not_meeting_ctr` -> "Not meeting CTR"; `p1_home_care` -> "P1 home care"."""
    words = [w.upper() if w in _ABBREVIATIONS else w for w in re.split(r"[_\s]+", name) if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def describe_duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 60 == 0 and minutes >= 60:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _lower_first(text: str) -> str:
    """Lower-case the first letter for use inside a sentence, unless the first word is an
    abbreviation ("UK Core discharge destination", "IC offer response")."""
    first = text.split(" ", 1)[0]
    if len(first) > 1 and first[:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else f"{text}."


def _join(*texts: str) -> str:
    return " ".join(t for t in texts if t)
