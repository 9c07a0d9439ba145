"""The assessor's journey in Debian's Chromium, keyboard only: sign in, claim the next case,
open it, score a Checklist and see the indicative result and its rule, save it, start the full
assessment, score a DST and see its indicative result, save it. Then every CHC page passes
axe-core (WCAG 2.2 A/AA, no serious or critical violation) at 360, 768 and 1280 px without
overflowing (swept on tests/browser.py's LAYOUT_BACKEND), with no console errors."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.browser import check_page, new_page, sign_in_with_token, sweep_widths
from tests.chc.helpers import CFG, ChcApi
from tests.web.chc_helpers import open_case, refer_to_panel, to_screening


def tab_to(page: Any, selector: str = "", *, text: str = "", limit: int = 400) -> None:
    """Press Tab until the focus is on the element matching `selector`, or on the button or
    link whose text is `text`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED, [selector, text]):
            return
    raise AssertionError(f"Tab never reached {selector or text}")


FOCUSED = """([selector, text]) => {
  const e = document.activeElement;
  if (!e) return false;
  if (selector) return e.matches(selector);
  return ["A", "BUTTON"].includes(e.tagName) && e.textContent.trim() === text;
}"""


def choose(page: Any, name: str, choices: list[str], value: str) -> None:
    """Choose a radio of the group `name` with the arrow keys: Tab into the group (its first
    radio has the focus, unchecked), then Right to the value (Right then Left for the first)."""
    tab_to(page, f"#{name}")
    at = choices.index(value)
    if at == 0:
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowLeft")
    for _ in range(at):
        page.keyboard.press("ArrowRight")
    assert page.is_checked(f'input[name="{name}"][value="{value}"]')


def press_button(page: Any, text: str) -> None:
    tab_to(page, text=text)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_an_assessor_claims_and_scores_by_keyboard(
    client: TestClient, make_user, browser, live_server: str
) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    case_id = open_case(api, 200, person_name="Kit Keyboard")
    to_screening(api, case_id)
    open_case(api, 3)  # green: waits behind the red case
    context, page, problems = new_page(browser, width=1280)
    try:
        sign_in_with_token(page, live_server, jo.token, next_path="/chc/queue")
        assert page.url.endswith("/chc/queue")

        press_button(page, "Claim the next case")
        banner = page.inner_text(".nhsuk-notification-banner")
        assert f"You claimed case {case_id}: Kit Keyboard." in banner
        press_button(page, f"Open case {case_id}")
        assert page.url.endswith(f"/chc/cases/{case_id}")
        press_button(page, "Score the Checklist")

        scores = {d.key: "C" for d in CFG.tools.checklist.domains} | {"breathing": "A"}
        for key, score in scores.items():
            choose(page, f"checklist_{key}", list(CFG.tools.checklist.scores), score)
        press_button(page, "Check the indicative result")
        result = page.inner_text("#indicative-result")
        assert "Full assessment required" in result
        assert "an A in a domain that carries a Priority level in the DST (Breathing)" in result
        assert "(rule: a_in_priority_domain)" in result
        press_button(page, "Save the Checklist")
        assert "The Checklist is recorded." in page.inner_text(".nhsuk-notification-banner")
        assert api.chc_case(case_id)["checklist"]["result"] == "full_assessment_required"

        press_button(page, "Start the full assessment")
        assert page.url.endswith(f"/chc/cases/{case_id}/dst?done=started")
        levels = {d.key: "low" for d in CFG.tools.dst.domains} | {
            "mobility": "severe",
            "cognition": "severe",
        }
        for d in CFG.tools.dst.domains:
            choose(page, f"dst_{d.key}", list(d.levels), levels[d.key])
        choose(page, "dst_setting", ["community", "acute"], "community")
        press_button(page, "Check the indicative result")
        result = page.inner_text("#indicative-result")
        assert "Eligibility expected" in result
        assert "2 or more Severe needs (Mobility, Cognition)" in result
        press_button(page, "Save the Decision Support Tool")
        assert "is recorded" in page.inner_text(".nhsuk-notification-banner")
        recorded = api.chc_case(case_id)
        assert recorded["dst"]["result"] == "eligibility_expected"
        assert recorded["work_item"]["claim"]["assessor"] == jo.actor.username
        assert problems.errors == []
    finally:
        context.close()


def test_the_chc_pages_pass_axe_at_every_width(
    client: TestClient, make_user, browser, live_server: str, backend: str
) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    api.import_list("MLCSU", "mlcsu.csv")
    second = api.import_list("LSCFT", "lscft.csv")
    claimed = api.post("/queues/chc/claim").json()["case_id"]
    screening = api.queue(limit=500)["items"][-1]["case_id"]
    to_screening(api, screening)
    panel_date = refer_to_panel(api, open_case(api, 30, person_name="Pat Panel"))
    context, page, problems = new_page(browser)
    try:
        sign_in_with_token(page, live_server, jo.token)
        pages = [
            "/chc/queue",
            f"/chc/cases/{claimed}",
            f"/chc/cases/{screening}/checklist",
            f"/chc/cases/{screening}/dst",
            f"/chc/panels?date={panel_date}",
            "/chc/imports",
            f"/chc/imports/{second['id']}",
            "/chc/reconciliation",
        ]
        found = {path: check_page(page, f"{live_server}{path}", backend=backend) for path in pages}
        clean = {"violations": [], "overflow": 0}
        widths = [str(w) for w in sweep_widths(backend)]
        assert found == {path: dict.fromkeys(widths, clean) for path in pages}
        assert problems.errors == []
    finally:
        context.close()
