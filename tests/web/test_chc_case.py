"""`/chc/cases/{id}` and its Checklist and DST forms: the RAG rating with the rules that fired,
provenance of merged backlog rows, the indicative results as the assessor scores (the API's own
evaluation), and saving through the pathway's events with every refusal shown."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.chc.helpers import CFG, CHECKLIST_KEYS, DST_KEYS, ChcApi, checklist
from tests.web.chc_helpers import banner, error_summary, open_case, signed_in, to_screening


def _result(html: str) -> str:
    """The indicative-result box's text, whitespace folded."""
    box = html[html.index('id="indicative-result"') + len('id="indicative-result"') :]
    box = box[box.index(">") + 1 :]
    box = box[: box.index("Decision support only: this never decides")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", box)).strip()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _checked(html: str) -> dict[str, str]:
    """The radios the page has checked, by name."""
    return dict(re.findall(r'name="(\w+)" type="radio" value="(\w+)" checked', html))


def _api_indicative(client: TestClient, user: Any, tool: str, values: dict[str, str]) -> dict:
    key = "scores" if tool == "checklist" else "levels"
    r = client.post(f"/api/v1/chc/{tool}/indicative", json={key: values}, headers=user.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_case_page_explains_the_rating_and_shows_merged_rows(
    client: TestClient, make_user
) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    for source, name in (("MLCSU", "mlcsu.csv"), ("LSCFT", "lscft.csv")):
        api.import_list(source, name)
    merged = next(
        c
        for c in (api.chc_case(i["case_id"]) for i in api.queue(limit=500)["items"])
        if len({p["source_list"] for p in c["provenance"]}) > 1
    )
    case_id = merged["case_id"]
    page = signed_in(client, jo).get(f"/chc/cases/{case_id}")
    assert page.status_code == 200
    for reason in merged["work_item"]["reasons"]:
        assert f'{reason["text"]} <span class="app-chc-rule">(rule: {reason["rule_id"]})' in (
            page.text
        )
    for row in merged["provenance"]:
        assert f"{row['source_record_id']} (row {row['row_number']})" in page.text
        assert f'href="/chc/imports/{row["import_id"]}"' in page.text
    assert "Matched on" in page.text  # a later list's row joined the case opened by the first
    assert f'href="/tracker/cases/{case_id}"' in page.text
    officer = make_user("ig_officer", org=jo.org)
    audit = client.get(
        "/api/v1/audit", params={"user": jo.actor.username}, headers=officer.headers
    ).json()["items"]
    assert ("/chc/cases/{chc_case_id}", [case_id]) in [
        (x["endpoint"], x["case_ids"]) for x in audit
    ]


def test_other_organisations_cases_and_other_workflows_are_not_found(
    client: TestClient, make_user
) -> None:
    theirs = make_user("chc_assessor")
    their_case = open_case(ChcApi(client, theirs.headers), 10)
    to_screening(ChcApi(client, theirs.headers), their_case)
    mine = signed_in(client, make_user("chc_assessor"))
    for path in ("", "/checklist", "/dst"):
        r = mine.get(f"/chc/cases/{their_case}{path}")
        assert r.status_code == 404, path
        assert "not found" in r.text
    form = checklist() | {"version": "3", "action": "save"}
    assert mine.post(f"/chc/cases/{their_case}/checklist", data=form).status_code == 404
    assert ChcApi(client, theirs.headers).chc_case(their_case)["checklist"] is None
    assert mine.get("/chc/cases/99999999").status_code == 404


def test_the_checklist_shows_the_indicative_result_as_scored_then_saves(
    client: TestClient, make_user
) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    case_id = open_case(api, 10, person_name="Ada Checklist")
    to_screening(api, case_id)
    b = signed_in(client, jo)
    page = b.get(f"/chc/cases/{case_id}/checklist")
    assert "Decision support only" in page.text
    assert 'name="checklist_breathing" type="radio" value="A"' in page.text
    assert "Carries a Priority level in the DST" in page.text
    version = str(api.chc_case(case_id)["version"])

    # One A in a priority domain, the rest not yet scored: the result so far, and its rule.
    partial = b.post(
        f"/chc/cases/{case_id}/checklist",
        data={"version": version, "action": "check", "checklist_breathing": "A"},
    )
    assert partial.status_code == 200
    expected = _api_indicative(
        client, jo, "checklist", dict.fromkeys(CHECKLIST_KEYS, "C") | {"breathing": "A"}
    )
    assert expected["result"] == "full_assessment_required"
    assert _result(partial.text).startswith(
        f"Indicative result So far: 1 of {len(CHECKLIST_KEYS)} domains scored"
    )
    for rule in expected["fired"]:
        assert f"{rule['text']} (rule: {rule['id']})" in _result(partial.text)
    assert _checked(partial.text) == {"checklist_breathing": "A"}  # nothing typed is lost

    scores = {f"checklist_{k}": "C" for k in CHECKLIST_KEYS} | {"checklist_mobility": "A"}
    complete = b.post(
        f"/chc/cases/{case_id}/checklist", data=scores | {"version": version, "action": "check"}
    )
    assert "So far" not in _result(complete.text)
    assert "Full assessment not indicated" in _result(complete.text)
    assert api.chc_case(case_id)["checklist"] is None  # checking records nothing

    saved = b.post(
        f"/chc/cases/{case_id}/checklist",
        data=scores | {"version": version, "action": "save", "checklist_date": "2026-01-05"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/chc/cases/{case_id}/checklist?done=saved"
    after = b.get(saved.headers["location"])
    assert banner(after) == "Success The Checklist is recorded."
    recorded = api.chc_case(case_id)
    assert recorded["attributes"]["checklist_mobility"] == "A"
    assert recorded["attributes"]["checklist_date"] == "2026-01-05"
    assert recorded["checklist"]["result"] == "full_assessment_not_indicated"
    assert _checked(after.text)["checklist_mobility"] == "A"
    case_page = b.get(f"/chc/cases/{case_id}")
    assert "Full assessment not indicated" in case_page.text


def test_checklist_refusals_are_error_summaries_and_keep_what_was_typed(
    client: TestClient, make_user
) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    case_id = open_case(api, 10)
    b = signed_in(client, jo)
    version = str(api.chc_case(case_id)["version"])

    # Still `referred`: the page offers checking, not saving, and a hand-made save is refused.
    page = b.get(f"/chc/cases/{case_id}/checklist")
    assert "Save the Checklist" not in page.text
    assert "is recorded while the case is screening; it is now referred." in _text(page.text)
    r = b.post(
        f"/chc/cases/{case_id}/checklist", data=checklist() | {"version": version, "action": "save"}
    )
    assert r.status_code == 409
    assert error_summary(r) == ["'record_checklist' cannot be fired from 'referred'"]

    to_screening(api, case_id)
    version = str(api.chc_case(case_id)["version"])
    bad = b.post(
        f"/chc/cases/{case_id}/checklist",
        data={"version": version, "action": "check", "checklist_breathing": "D"},
    )
    assert bad.status_code == 422
    assert error_summary(bad) == ["Breathing: choose one of the levels shown"]

    some = {"checklist_breathing": "B", "checklist_nutrition": "A"}
    missing = b.post(
        f"/chc/cases/{case_id}/checklist", data=some | {"version": version, "action": "save"}
    )
    assert missing.status_code == 422
    labels = [f"{label}: required" for label in (
        "Continence", "Skin integrity", "Mobility", "Communication",
        "Psychological and emotional needs", "Cognition", "Behaviour",
        "Drug therapies and medication: symptom control", "Altered states of consciousness",
    )]  # fmt: skip
    assert error_summary(missing) == labels
    assert 'href="#checklist_continence"' in missing.text
    assert _checked(missing.text) == some
    assert api.chc_case(case_id)["attributes"].get("checklist_breathing") is None

    # Someone else changes the case meanwhile: nothing is overwritten; saving again applies.
    api.fire(case_id, "update_details", data={"deteriorating": True})
    stale = b.post(
        f"/chc/cases/{case_id}/checklist",
        data=checklist(breathing="B") | {"version": version, "action": "save"},
    )
    assert stale.status_code == 412
    assert error_summary(stale)[0].startswith("Someone else changed this case")
    assert _checked(stale.text)["checklist_breathing"] == "B"
    assert api.chc_case(case_id)["attributes"].get("checklist_breathing") is None
    new_version = re.search(r'name="version" value="(\d+)"', stale.text)
    assert new_version
    assert new_version.group(1) == str(api.chc_case(case_id)["version"])
    again = b.post(
        f"/chc/cases/{case_id}/checklist",
        data=checklist(breathing="B") | {"version": new_version.group(1), "action": "save"},
    )
    assert banner(again) == "Success The Checklist is recorded."
    assert api.chc_case(case_id)["attributes"]["checklist_breathing"] == "B"


def test_going_against_the_checklist_needs_a_rationale(client: TestClient, make_user) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    case_id = open_case(api, 10)
    to_screening(api, case_id)
    api.fire(case_id, "record_checklist", data=checklist())  # all C: not indicated
    b = signed_in(client, jo)
    version = str(api.chc_case(case_id)["version"])
    page = b.get(f"/chc/cases/{case_id}/checklist")
    assert "Next: start the full assessment" in page.text

    refused = b.post(f"/chc/cases/{case_id}/checklist/next", data={"version": version})
    assert refused.status_code == 409
    assert "record checklist_rationale to go ahead" in error_summary(refused)[0]
    assert 'href="#checklist_rationale"' in refused.text
    assert api.chc_case(case_id)["state"] == "screening"

    started = b.post(
        f"/chc/cases/{case_id}/checklist/next",
        data={"version": version, "checklist_rationale": "family report rapid decline"},
        follow_redirects=False,
    )
    assert started.status_code == 303
    assert started.headers["location"] == f"/chc/cases/{case_id}/dst?done=started"
    assert api.chc_case(case_id)["state"] == "full_assessment"
    assert (
        api.chc_case(case_id)["attributes"]["checklist_rationale"] == "family report rapid decline"
    )


def test_the_dst_shows_the_indicative_result_saves_and_refers_to_panel(
    client: TestClient, make_user
) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    case_id = open_case(api, 10)
    to_screening(api, case_id)
    api.fire(case_id, "record_checklist", data=checklist(breathing="A"))
    api.fire(case_id, "start_full_assessment", data={})
    b = signed_in(client, jo)
    version = str(api.chc_case(case_id)["version"])
    page = b.get(f"/chc/cases/{case_id}/dst")
    # Each domain offers its own levels, as the configuration lists them.
    offered: dict[str, list[str]] = {}
    for name, value in re.findall(r'name="(dst_\w+)" type="radio" value="(\w+)"', page.text):
        offered.setdefault(name, []).append(value)
    assert offered == {f"dst_{d.key}": list(d.levels) for d in CFG.tools.dst.domains} | {
        "dst_setting": ["community", "acute"]
    }
    assert offered["dst_continence"] == ["none", "low", "moderate", "high"]

    levels = {f"dst_{k}": "low" for k in DST_KEYS} | {"dst_breathing": "priority"}
    checked = b.post(
        f"/chc/cases/{case_id}/dst", data=levels | {"version": version, "action": "check"}
    )
    expected = _api_indicative(
        client, jo, "dst", dict.fromkeys(DST_KEYS, "low") | {"breathing": "priority"}
    )
    assert expected["result"] == "eligibility_expected"
    assert "Eligibility expected" in _result(checked.text)
    for rule in expected["fired"]:
        assert f"{rule['text']} (rule: {rule['id']})" in _result(checked.text)

    acute = b.post(
        f"/chc/cases/{case_id}/dst",
        data=levels | {"version": version, "action": "save", "dst_setting": "acute"},
    )
    assert acute.status_code == 409
    assert any("exception" in e for e in error_summary(acute))
    assert _checked(acute.text)["dst_setting"] == "acute"

    saved = b.post(
        f"/chc/cases/{case_id}/dst",
        data=levels | {"version": version, "action": "save", "dst_setting": "community"},
    )
    assert banner(saved) == "Success The Decision Support Tool is recorded."
    recorded = api.chc_case(case_id)
    assert recorded["dst"]["result"] == "eligibility_expected"
    assert recorded["attributes"]["dst_setting"] == "community"

    referred = b.post(
        f"/chc/cases/{case_id}/dst/next",
        data={"version": str(recorded["version"])},
        follow_redirects=False,
    )
    assert referred.status_code == 303
    after = api.chc_case(case_id)
    assert after["state"] == "panel"
    assert referred.headers["location"] == (
        f"/chc/panels?date={after['attributes']['panel_date']}&done=referred&case={case_id}"
    )
    agenda = b.get(referred.headers["location"])
    assert banner(agenda) == (
        f"Success Case {case_id} is on the agenda of the panel on "
        f"{after['attributes']['panel_date']}."
    )


def test_readers_without_the_write_can_check_but_not_save(client: TestClient, make_user) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    case_id = open_case(api, 10)
    to_screening(api, case_id)
    manager = signed_in(client, make_user("manager", org=jo.org))
    page = manager.get(f"/chc/cases/{case_id}/checklist")
    assert page.status_code == 200
    assert "Save the Checklist" not in page.text
    assert "Your roles do not record the Checklist" in page.text
    version = str(api.chc_case(case_id)["version"])
    r = manager.post(
        f"/chc/cases/{case_id}/checklist", data=checklist() | {"version": version, "action": "save"}
    )
    assert r.status_code == 403
    assert error_summary(r) == [
        "'record_checklist' needs one of the roles: chc_assessor, trusted_assessor"
    ]
    ok = manager.post(
        f"/chc/cases/{case_id}/checklist",
        data=checklist() | {"version": version, "action": "check"},
    )
    assert "Full assessment not indicated" in _result(ok.text)


def test_a_reassessment_records_a_new_dst_on_the_same_form(client: TestClient, make_user) -> None:
    """ "Eligibility cannot be determined at a Review": a review starts a reassessment, whose new
    DST the MDT records on the DST form (the previous levels are in the case's history only)."""
    jo = make_user("chc_assessor", "chc_decision_maker", "broker")
    api = ChcApi(client, jo.headers)
    case_id = open_case(api, 10)
    nurse = {
        "fast_track_clinician": "A Jones RN",
        "fast_track_clinician_profession": "registered_nurse",
    }
    api.steps(
        case_id,
        ("fast_track", nurse),
        ("accept_fast_track", {"decision_outcome": "chc_eligible"}),
        ("transition_funding", {"funding_effective_date": "2026-01-05"}),
        ("schedule_review", {}),
        ("start_reassessment", {"reassessment_reason": "needs reduced"}),
    )
    b = signed_in(client, jo)
    assert b.get(f"/chc/cases/{case_id}").status_code == 200
    page = b.get(f"/chc/cases/{case_id}/dst")
    assert page.status_code == 200
    assert _checked(page.text) == {}  # nothing carried over from an earlier DST
    asc = re.findall(r'name="dst_altered_states" type="radio" value="(\w+)"', page.text)
    assert asc == ["none", "low", "moderate", "high", "priority"]
    levels = {f"dst_{k}": "low" for k in DST_KEYS} | {"dst_altered_states": "moderate"}
    version = str(api.chc_case(case_id)["version"])
    saved = b.post(
        f"/chc/cases/{case_id}/dst",
        data=levels | {"version": version, "action": "save", "dst_setting": "community"},
    )
    assert banner(saved) == "Success The Decision Support Tool is recorded."
    after = api.chc_case(case_id)
    assert (after["state"], after["attributes"]["dst_altered_states"]) == (
        "reassessment",
        "moderate",
    )
