"""Event forms generated from pathway definitions (app/web/eventforms.py).

What makes a new workflow's case page work without new templates is that every transition of
every pathway yields a form with exactly the fields the engine takes, and that a filled-in form
reads back into data the engine accepts. Both are checked here over every loaded pathway.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.codelists.checks import code_checker
from app.codelists.loader import CodeSetRegistry
from app.engine.catalogue import PathwayCatalogue
from app.engine.fields import CODELISTS_KEY, validate_data
from app.engine.spec import PathwaySpec
from app.engine.timerules import TimePolicy
from app.errors import NotFound
from app.timeutil import LONDON
from app.web.eventforms import (
    CLINICAL_TIME,
    REASON,
    EventForm,
    FieldErrors,
    FormField,
    ParsedEvent,
    form_for,
    parse_submission,
)

ON = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def every_event(catalogue: PathwayCatalogue) -> list[tuple[PathwaySpec, str, str]]:
    """(pathway, state, trigger) for every transition out of every state it leaves."""
    out: dict[tuple[str, int, str, str], tuple[PathwaySpec, str, str]] = {}
    for loaded in catalogue.all():
        spec = loaded.spec
        for t in spec.transitions:
            for state in t.source:
                out[(spec.key, spec.version, state, t.trigger)] = (spec, state, t.trigger)
    return list(out.values())


def build(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry, workflow: str, event: str, **kw: Any
) -> EventForm:
    version = catalogue.latest(workflow).spec.version  # type: ignore[union-attr]
    return form_for(catalogue, workflow, version, event, codes=codes, on=kw.pop("on", ON), **kw)


# -- every transition of every pathway has its form -----------------------------------------


def test_every_transition_of_every_pathway_gets_a_form_with_exactly_its_fields(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry
) -> None:
    checked = 0
    for spec, state, trigger in every_event(catalogue):
        same = [t for t in spec.transitions if t.trigger == trigger and state in t.source]
        form = form_for(catalogue, spec.key, spec.version, trigger, codes=codes, on=ON, state=state)
        names = [f.name for f in form.fields]
        assert len(names) == len(set(names)), (spec.key, trigger)
        # The engine offers every field these transitions take and requires what all require.
        assert set(names) == {n for t in same for n in (*t.requires, *t.accepts)}, (spec.key, state)
        required = set.intersection(*(set(t.requires) for t in same))
        assert {f.name for f in form.fields if f.required} == required, (spec.key, trigger)
        flags = [f.required for f in form.fields]
        assert flags == sorted(flags, reverse=True), "required fields come first"
        for f in form.fields:
            _check_field_matches_spec(f, spec, codes)
        checked += 1
    # The four shipped pathways have dozens of transitions; a vacuous loop proves nothing.
    assert checked >= 50


def _check_field_matches_spec(f: FormField, spec: PathwaySpec, codes: CodeSetRegistry) -> None:
    declared = spec.fields[f.name]
    assert f.type == declared.type
    expected_kind = {
        "date": "date",
        "datetime": "datetime-local",
        "boolean": "yes-no",
        "enum": "select",
        "code": "select",
        "codes": "checkboxes",
        "text": "textarea",
    }.get(declared.type, "text")
    assert f.kind == expected_kind, f.name
    if declared.type == "enum":
        assert [c.value for c in f.choices] == list(declared.choices)
    if declared.type in ("code", "codes"):
        listed = codes.current(str(declared.codelist), ON)
        assert [(c.value, c.label) for c in f.choices] == [(e.code, e.label) for e in listed.codes]
    if declared.type in ("string", "text"):
        assert f.max_length == declared.max_length
    assert f.label.strip(), f.name


def test_a_new_workflow_with_every_field_type_gets_forms(codes: CodeSetRegistry) -> None:
    """A pathway no template knows: its form still comes out, one input per field type."""
    spec = PathwaySpec.model_validate(
        {
            "key": "new-flow",
            "version": 3,
            "title": "New",
            "initial": "a",
            "open_roles": ["discharge_team"],
            "fields": {
                "note": {"type": "text", "max_length": 40},
                "who": {"type": "string", "max_length": 10},
                "count": {"type": "integer", "minimum": 1, "maximum": 9},
                "flag": {"type": "boolean"},
                "day": {"type": "date"},
                "at": {"type": "datetime"},
                "size": {"type": "enum", "choices": ["small", "large"]},
                "patient": {"type": "nhs_number"},
                "delay": {"type": "code", "codelist": "delay-reasons-acute"},
            },
            "states": [{"name": "a"}, {"name": "b", "final": True}],
            "transitions": [
                {
                    "trigger": "finish",
                    "source": "a",
                    "dest": "b",
                    "roles": ["discharge_team"],
                    "requires": ["day", "size"],
                    "accepts": ["note", "who", "count", "flag", "at", "patient", "delay"],
                },
                # One event, two transitions (rules pick one): required is what both require.
                {
                    "trigger": "split",
                    "source": "a",
                    "dest": "b",
                    "roles": ["discharge_team"],
                    "requires": ["who", "day"],
                },
                {
                    "trigger": "split",
                    "source": "a",
                    "dest": "b",
                    "roles": ["discharge_team"],
                    "requires": ["day"],
                    "accepts": ["note"],
                },
            ],
        }
    )
    form = form_for(spec, "new-flow", 3, "finish", codes=codes, on=ON)
    assert [f.name for f in form.fields] == [
        "day", "size", "note", "who", "count", "flag", "at", "patient", "delay"
    ]  # fmt: skip
    assert [f.kind for f in form.fields] == [
        "date", "select", "textarea", "text", "text", "yes-no", "datetime-local", "text", "select"
    ]  # fmt: skip
    split = form_for(spec, "new-flow", 3, "split", codes=codes, on=ON)
    assert [(f.name, f.required) for f in split.fields] == [
        ("day", True), ("who", False), ("note", False)
    ]  # fmt: skip
    assert form.field("count").inputmode == "numeric"
    assert form.field("count").hint == "A whole number from 1 to 9."
    parsed = parse_submission(
        form,
        {
            "day[day]": "1",
            "day[month]": "2",
            "day[year]": "2026",
            "size": "large",
            "count": "7",
            "flag": "no",
            "at": "2026-03-01T09:15",
            "patient": "943 476 5919",
            "delay": "hospital-therapy-review",
        },
        now=NOW,
    )
    assert isinstance(parsed, ParsedEvent), parsed
    assert parsed.data == {
        "day": date(2026, 2, 1),
        "size": "large",
        "count": 7,
        "flag": False,
        "at": datetime(2026, 3, 1, 9, 15, tzinfo=UTC),
        "patient": "9434765919",
        "delay": "hospital-therapy-review",
    }


def test_an_event_the_pathway_does_not_have_is_not_found(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry
) -> None:
    with pytest.raises(NotFound):
        build(catalogue, codes, "discharge", "no_such_event")
    with pytest.raises(NotFound):  # exists, but not from this state
        build(catalogue, codes, "discharge", "open_delay", state="referred")
    with pytest.raises(NotFound):
        form_for(catalogue, "discharge", 999, "accept", codes=codes, on=ON)


def test_state_narrows_an_event_to_the_transitions_out_of_it(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry
) -> None:
    ic = catalogue.latest("intermediate_care").spec  # type: ignore[union-attr]
    assess = {t.source[0]: t for t in ic.transitions if t.trigger == "assess"}
    triaged = build(catalogue, codes, "intermediate_care", "assess", state="triaged")
    active = build(catalogue, codes, "intermediate_care", "assess", state="active")
    assert {f.name for f in triaged.fields} == {
        *assess["triaged"].requires,
        *assess["triaged"].accepts,
    }
    assert {f.name for f in active.fields} == {
        *assess["active"].requires,
        *assess["active"].accepts,
    }
    assert {f.name for f in triaged.fields} != {f.name for f in active.fields}


# -- code lists: the labels in force on the day ---------------------------------------------


@pytest.mark.parametrize(
    ("on", "version"),
    [
        (date(2023, 6, 1), "2022-05-27"),
        # The 2024 specification was published on 30 April 2024 but "definitions changed from
        # 27 May 2024" (PUBLISHED-RULES.md row 7): the 2022 list answers until 26 May.
        (date(2024, 4, 30), "2022-05-27"),
        (date(2024, 5, 26), "2022-05-27"),  # the last day of the 2022 list (valid_to exclusive)
        (date(2024, 5, 27), "2024-04-30"),
        (date(2026, 3, 10), "2024-04-30"),
    ],
)
def test_delay_codes_are_those_of_the_list_in_force_on_the_day(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry, on: date, version: str
) -> None:
    form = build(catalogue, codes, "discharge", "open_delay", on=on)
    delay = form.field("delay_code")
    listed = codes.version("delay-reasons-acute", version)
    assert delay.codelist == f"delay-reasons-acute@{version}"
    assert [(c.value, c.label) for c in delay.choices] == [(e.code, e.label) for e in listed.codes]
    # A 2022 reason is gone from the 2024 list, and a 2024 reason did not exist before it.
    values = {c.value for c in delay.choices}
    assert ("medical-decision" in values) is (version == "2022-05-27")
    assert ("hospital-therapy-review" in values) is (version == "2024-04-30")


def test_a_code_from_another_list_version_is_refused(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry
) -> None:
    form = build(catalogue, codes, "discharge", "open_delay", on=date(2026, 3, 10))
    result = parse_submission(form, {"delay_code": "medical-decision"}, now=NOW)  # 2022 only
    assert isinstance(result, FieldErrors)
    assert result.errors == {"delay_code": "Delay code must be one of the options in the list"}


def test_no_list_in_force_means_no_choices_and_says_so(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry
) -> None:
    form = build(catalogue, codes, "discharge", "open_delay", on=date(2020, 1, 1))
    delay = form.field("delay_code")
    assert delay.choices == ()
    assert "No version of the delay-reasons-acute list is in force on 2020-01-01" in delay.hint


# -- reading a submission back --------------------------------------------------------------


def _is_plain_local(local: datetime) -> bool:
    """Neither in the hour skipped nor in the hour repeated when the UK's clocks change."""
    first = local.replace(tzinfo=LONDON, fold=0)
    second = local.replace(tzinfo=LONDON, fold=1)
    return first.utcoffset() == second.utcoffset()


def _typed_value(data: st.DataObject, f: FormField, spec: PathwaySpec) -> tuple[Any, Any]:
    """A value the field may hold, and how a person would type it into the form."""
    declared = spec.fields[f.name]
    if f.kind == "select":
        value = data.draw(st.sampled_from([c.value for c in f.choices]))
        return value, value
    if f.kind == "checkboxes":
        offered = [c.value for c in f.choices]
        ticked = data.draw(st.sets(st.sampled_from(offered), min_size=1))
        value = [c for c in offered if c in ticked]
        return value, value
    if f.kind == "yes-no":
        value = data.draw(st.booleans())
        return value, "yes" if value else "no"
    if f.kind == "date":
        latest = ON if declared.not_in_future else date(2199, 12, 31)
        day = data.draw(st.dates(date(1900, 1, 1), latest))
        return day, {"day": str(day.day), "month": str(day.month), "year": f"{day.year:04d}"}
    if f.kind == "datetime-local":
        local = data.draw(
            st.datetimes(datetime(1900, 1, 2), datetime(2199, 12, 30))
            .map(lambda d: d.replace(second=0, microsecond=0))
            .filter(_is_plain_local)
        )
        return local.replace(tzinfo=LONDON).astimezone(UTC), local.strftime("%Y-%m-%dT%H:%M")
    if declared.type == "integer":
        low = declared.minimum if declared.minimum is not None else -(2**63)
        high = declared.maximum if declared.maximum is not None else 2**63 - 1
        number = data.draw(st.integers(low, high))
        return number, str(number)
    if declared.type == "nhs_number":
        return "9434765919", "943 476 5919"
    # No control characters (tab and line feed only in free text), as a browser sends them.
    alphabet = st.characters(exclude_categories=("Cc", "Cs"))
    if f.kind == "textarea":
        alphabet = st.one_of(alphabet, st.sampled_from("\n\t"))
    text = data.draw(
        st.text(alphabet, min_size=1, max_size=min(declared.max_length, 30))
        .map(str.strip)
        .filter(bool)
    )
    return text, text


def _raw_for(form: EventForm, shown: dict[str, Any]) -> dict[str, str | list[str]]:
    raw: dict[str, str | list[str]] = {}
    for f in form.fields:
        if f.name not in shown:
            continue
        if f.kind == "date":
            raw.update({f.part_name(p): v for p, v in shown[f.name].items()})
        else:
            raw[f.name] = shown[f.name]
    return raw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_filled_in_forms_read_back_into_data_the_engine_accepts(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry, data: st.DataObject
) -> None:
    spec, state, trigger = data.draw(st.sampled_from(every_event(catalogue)))
    form = form_for(catalogue, spec.key, spec.version, trigger, codes=codes, on=ON, state=state)
    typed: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for f in form.fields:
        if f.required or data.draw(st.booleans()):
            typed[f.name], shown[f.name] = _typed_value(data, f, spec)
    raw = _raw_for(form, shown)
    # Unrelated inputs (the CSRF token, the version read) are ignored; blank optionals omitted.
    raw.update({"csrf_token": "x", "version": "3"})
    raw.update(
        {
            f.name: "   "
            for f in form.fields
            if f.name not in typed and f.kind not in ("date", "checkboxes")
        }
    )

    parsed = parse_submission(form, raw, now=NOW)

    assert isinstance(parsed, ParsedEvent), parsed
    assert parsed.event == trigger
    assert parsed.data == typed
    assert (parsed.occurred_at, parsed.reason, parsed.backdated) == (None, None, False)
    clean = validate_data(
        spec,
        parsed.json_data(),
        allowed=[f.name for f in form.fields],
        required=[f.name for f in form.fields if f.required],
        on=ON,
        code_check=code_checker(codes),
    )
    clean.pop(CODELISTS_KEY, None)
    assert clean == parsed.json_data()
    body = parsed.event_create()
    assert (body.event, body.data) == (trigger, parsed.json_data())
    # The same values shown as current values come out as a person would type them.
    prefilled = form_for(
        catalogue, spec.key, spec.version, trigger, codes=codes, on=ON, state=state, values=typed
    )
    for f in prefilled.fields:
        if f.name in shown:
            if f.kind == "checkboxes":
                assert list(f.selected) == shown[f.name], f.name
                continue
            assert (dict(f.parts) if f.kind == "date" else f.value) == shown[f.name], f.name


_names = st.sampled_from(
    [
        "delay_code", "delay_note", "delay_primary", "support_area", "expected_discharge_date",
        "expected_discharge_date[day]", "expected_discharge_date[month]",
        "expected_discharge_date[year]", "ward", "service_id", "hospital_discharge_at",
        "previous_episode_id", CLINICAL_TIME, REASON,
    ]
)  # fmt: skip
_texts = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"-?[0-9]{1,25}", fullmatch=True),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?", fullmatch=True
    ),
    st.sampled_from(["yes", "no", "YES", "", " ", "P1", "hospital-therapy-review", "\x00"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    raw=st.dictionaries(
        st.one_of(_names, st.text(max_size=20)),
        st.one_of(_texts, st.lists(_texts, max_size=3)),
        max_size=12,
    ),
)
def test_any_submission_gives_data_or_errors_never_an_exception(
    catalogue: PathwayCatalogue,
    codes: CodeSetRegistry,
    data: st.DataObject,
    raw: dict[str, Any],
) -> None:
    spec, state, trigger = data.draw(st.sampled_from(every_event(catalogue)))
    form = form_for(catalogue, spec.key, spec.version, trigger, codes=codes, on=ON, state=state)
    result = parse_submission(form, raw, now=NOW)
    assert isinstance(result, ParsedEvent | FieldErrors)
    if isinstance(result, FieldErrors):
        assert result.errors
        assert all(m.strip() for m in result.errors.values())
        assert set(result.errors) <= set(form.anchors)
        # What was sent can be shown again without raising either.
        form_for(
            catalogue, spec.key, spec.version, trigger, codes=codes, on=ON, state=state, raw=raw
        )


def test_wrongly_typed_values_are_errors_too(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry
) -> None:
    form = build(catalogue, codes, "discharge", "open_delay")
    raw: dict[str, Any] = {"delay_code": 7, "delay_note": None, CLINICAL_TIME: ["a", 1]}
    result = parse_submission(form, raw, now=NOW)
    assert isinstance(result, FieldErrors)
    assert set(result.errors) == {"delay_code", CLINICAL_TIME}


# -- messages -------------------------------------------------------------------------------


def test_missing_required_fields_say_what_to_enter_or_select(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry
) -> None:
    delay = parse_submission(build(catalogue, codes, "discharge", "open_delay"), {}, now=NOW)
    assert isinstance(delay, FieldErrors)
    assert delay.errors == {"delay_code": "Select delay code"}
    cancel = parse_submission(build(catalogue, codes, "discharge", "cancel"), {}, now=NOW)
    assert isinstance(cancel, FieldErrors)
    assert cancel.errors == {"cancel_reason": "Enter cancel reason"}
    pathway = parse_submission(build(catalogue, codes, "discharge", "set_pathway"), {}, now=NOW)
    assert isinstance(pathway, FieldErrors)
    assert pathway.errors == {"pathway": "Select planned D2A pathway"}


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (("31", "2", "2026"), "must be a real date, like 15 3 2026"),
        (("x", "2", "2026"), "must be a real date, like 15 3 2026"),
        (("1", "", "2026"), "must include a month"),
        (("", "", "2026"), "must include a day and month"),
        (("1", "2", "26"), "must have a year with 4 numbers, like 2026"),
        (("1", "2", "1899"), "must be between 1900 and 2199"),
    ],
)
def test_bad_dates_say_what_is_wrong(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry, parts: tuple[str, ...], message: str
) -> None:
    form = build(catalogue, codes, "discharge", "accept")
    raw = dict(
        zip([f"expected_discharge_date[{p}]" for p in ("day", "month", "year")], parts, strict=True)
    )
    result = parse_submission(form, raw, now=NOW)
    assert isinstance(result, FieldErrors)
    assert result.errors == {"expected_discharge_date": f"Expected discharge date {message}"}
    assert result.values == {k: v for k, v in raw.items() if v}
    # Shown again as typed, and the error summary links to the day input.
    again = form_for(
        catalogue, "discharge", 1, "accept", codes=codes, on=ON, raw=result.values
    ).field("expected_discharge_date")
    assert dict(again.parts) == dict(zip(("day", "month", "year"), parts, strict=True))
    assert again.anchor == "accept-expected_discharge_date-day"


def test_a_date_may_come_as_one_iso_value(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry
) -> None:
    form = build(catalogue, codes, "discharge", "accept")
    ok = parse_submission(form, {"expected_discharge_date": "2026-03-12"}, now=NOW)
    assert isinstance(ok, ParsedEvent)
    assert ok.data == {"expected_discharge_date": date(2026, 3, 12)}
    bad = parse_submission(form, {"expected_discharge_date": "12/03/2026"}, now=NOW)
    assert isinstance(bad, FieldErrors)


def test_other_field_errors(catalogue: PathwayCatalogue, codes: CodeSetRegistry) -> None:
    accept = build(catalogue, codes, "discharge", "accept")
    result = parse_submission(accept, {"pathway": "P9", "responsible_person": "x" * 101}, now=NOW)
    assert isinstance(result, FieldErrors)
    assert result.errors == {
        "pathway": "Planned D2A pathway must be one of the options in the list",
        "responsible_person": "Named person who owns the case must be 100 characters or fewer",
    }
    details = build(catalogue, codes, "discharge", "update_details")
    result = parse_submission(details, {"carer_involved": "maybe", "ward": "A\tB"}, now=NOW)
    assert isinstance(result, FieldErrors)
    assert result.errors == {
        "carer_involved": "Select yes or no: carer involved",
        "ward": "Ward must not contain line breaks or special characters",
    }
    follow_on = build(catalogue, codes, "intermediate_care", "update_details")
    assert follow_on.field("hospital_discharge_at").kind == "datetime-local"
    result = parse_submission(follow_on, {"hospital_discharge_at": "2026-03-29T01:30"}, now=NOW)
    assert isinstance(result, FieldErrors)
    assert "clocks went forward" in result.errors["hospital_discharge_at"]


def test_whole_numbers_keep_to_the_field_minimum(codes: CodeSetRegistry) -> None:
    spec = PathwaySpec.model_validate(
        {
            "key": "n",
            "version": 1,
            "title": "N",
            "initial": "a",
            "open_roles": ["discharge_team"],
            "fields": {"beds": {"type": "integer", "minimum": 1}},
            "states": [{"name": "a"}],
            "transitions": [
                {"trigger": "count", "source": "a", "dest": None, "roles": ["discharge_team"],
                 "requires": ["beds"]}
            ],
        }
    )  # fmt: skip
    form = form_for(spec, "n", 1, "count", codes=codes, on=ON)
    for typed, message in [
        ("0", "Beds must be 1 or more"),
        ("1.5", "Beds must be a whole number, like 12"),
        ("99999999999999999999", "Beds must be 9223372036854775807 or less"),
    ]:
        result = parse_submission(form, {"beds": typed}, now=NOW)
        assert isinstance(result, FieldErrors)
        assert result.errors == {"beds": message}
    ok = parse_submission(form, {"beds": " 12 "}, now=NOW)
    assert isinstance(ok, ParsedEvent)
    assert ok.data == {"beds": 12}


# -- clinical time and the backdating reason ------------------------------------------------


def test_clinical_time_is_uk_local_time(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry
) -> None:
    form = build(catalogue, codes, "discharge", "not_meeting_ctr")
    summer_now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    summer = parse_submission(form, {CLINICAL_TIME: "2026-07-01T12:50"}, now=summer_now)
    assert isinstance(summer, ParsedEvent)
    assert summer.occurred_at == datetime(2026, 7, 1, 11, 50, tzinfo=UTC)  # BST is UTC+1
    assert summer.backdated is False
    winter = parse_submission(form, {CLINICAL_TIME: "2026-03-10T11:50"}, now=NOW)
    assert isinstance(winter, ParsedEvent)
    assert winter.occurred_at == datetime(2026, 3, 10, 11, 50, tzinfo=UTC)


def test_backdating_beyond_the_rule_needs_a_reason(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry
) -> None:
    form = build(catalogue, codes, "discharge", "not_meeting_ctr")
    limit = TimePolicy().backdate_after
    just_inside = (NOW - limit).astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")
    beyond = (NOW - limit - timedelta(minutes=1)).astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")
    assert isinstance(parse_submission(form, {CLINICAL_TIME: just_inside}, now=NOW), ParsedEvent)
    refused = parse_submission(form, {CLINICAL_TIME: beyond}, now=NOW)
    assert isinstance(refused, FieldErrors)
    assert refused.errors == {
        REASON: "Enter why this is recorded more than 15 minutes after it happened"
    }
    ok = parse_submission(
        form, {CLINICAL_TIME: beyond, REASON: " Ward round ran late\r\n"}, now=NOW
    )
    assert isinstance(ok, ParsedEvent)
    assert (ok.backdated, ok.reason) == (True, "Ward round ran late")
    assert ok.event_create().occurred_at == ok.occurred_at


def test_the_backdating_rule_comes_from_the_time_policy(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry
) -> None:
    policy = TimePolicy(backdate_after=timedelta(hours=2))
    form = build(catalogue, codes, "discharge", "not_meeting_ctr", time_policy=policy)
    assert "more than 2 hours ago" in form.reason.hint
    ninety_minutes_ago = (NOW - timedelta(minutes=90)).astimezone(LONDON)
    raw = {CLINICAL_TIME: ninety_minutes_ago.strftime("%Y-%m-%dT%H:%M")}
    assert isinstance(parse_submission(form, raw, now=NOW), ParsedEvent)
    strict = build(catalogue, codes, "discharge", "not_meeting_ctr")
    assert isinstance(parse_submission(strict, raw, now=NOW), FieldErrors)


def test_the_future_is_refused(catalogue: PathwayCatalogue, codes: CodeSetRegistry) -> None:
    form = build(catalogue, codes, "discharge", "not_meeting_ctr")
    result = parse_submission(form, {CLINICAL_TIME: "2026-03-10T12:05"}, now=NOW)
    assert isinstance(result, FieldErrors)
    assert result.errors == {CLINICAL_TIME: "The time it happened must be now or in the past"}
    skew = parse_submission(form, {CLINICAL_TIME: "2026-03-10T12:01"}, now=NOW)
    assert isinstance(skew, ParsedEvent)  # within the engine's allowance for clock drift


# -- current values ------------------------------------------------------------------------


def test_current_values_are_shown_as_typed(
    catalogue: PathwayCatalogue, codes: CodeSetRegistry
) -> None:
    attributes = {
        "ward": "Ward 7",
        "expected_discharge_date": "2026-03-14",
        "carer_involved": True,
        "admitted_at": "2026-03-01T08:00:00+00:00",
    }
    form = build(catalogue, codes, "discharge", "update_details", values=attributes)
    assert form.field("ward").value == "Ward 7"
    assert dict(form.field("expected_discharge_date").parts) == {
        "day": "14", "month": "3", "year": "2026"
    }  # fmt: skip
    assert form.field("carer_involved").value == "yes"
    assert form.field("carer_name").value == ""
    ic = build(
        catalogue,
        codes,
        "intermediate_care",
        "update_details",
        values={"hospital_discharge_at": "2026-07-01T08:00:00+00:00"},
    )
    assert ic.field("hospital_discharge_at").value == "2026-07-01T09:00"  # BST
    # What was typed wins over the current value when a form is shown again.
    again = build(
        catalogue, codes, "discharge", "update_details", values=attributes, raw={"ward": "8"}
    )
    assert again.field("ward").value == "8"
