"""The what-if screen: a manager queues a run from the form; its page says it is queued in a
status region and refreshes itself; once the job has carried it out, the page shows the
baseline and scenario side by side, the inputs and the seed, and stops refreshing. An analyst
reads runs but has no form; another organisation's run is not found.

The service here runs no background job (WHATIF_POLL_SECONDS=0): the test carries the run out
itself, so it sees the queued state for certain."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.browser import check_page, new_page, sign_in_with_token
from tests.helpers import signed_in
from tests.whatif.conftest import carry_out


def test_a_manager_queues_a_run_from_the_form_and_reads_its_result(
    quiet: TestClient, make_user: Any
) -> None:
    manager = make_user("manager")
    browser = signed_in(quiet, manager.token)
    home = browser.get("/dashboard/whatif")
    assert home.status_code == 200
    assert '<label class="nhsuk-label" for="community_beds">' in home.text
    assert "No what-if runs yet." in home.text

    bad = browser.post("/dashboard/whatif", data={"community_beds": "9999"})
    assert bad.status_code == 422
    assert "community_beds" in bad.text
    assert 'role="alert"' in bad.text
    assert 'value="9999"' in bad.text  # what was typed is kept

    r = browser.post(
        "/dashboard/whatif",
        data={
            "p1_starts_per_day": "5",
            "community_beds": "2",
            "weeks": "3",
            "runs": "4",
            "seed": "9",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    path = r.headers["location"]
    match = re.fullmatch(r"/dashboard/whatif/(\d+)", path)
    assert match is not None
    queued = browser.get(path).text
    assert 'role="status"' in queued
    assert "Queued" in queued
    assert '<meta http-equiv="refresh" content="3">' in queued
    assert f'href="/dashboard/whatif/{match.group(1)}"' in browser.get("/dashboard/whatif").text

    assert carry_out(quiet, int(match.group(1))) == 1
    done = browser.get(path).text
    assert 'http-equiv="refresh"' not in done
    assert "Done: 4 runs of 3 weeks, seed 9" in done
    assert '<th scope="col">Baseline</th><th scope="col">Scenario</th>' in done
    assert "What the baseline is based on" in done
    assert f'href="/api/v1/whatif/{match.group(1)}/result.csv"' in done
    # The list gives each run's headline: the median change in delayed bed days.
    api = quiet.get(f"/api/v1/whatif/{match.group(1)}", headers=manager.headers).json()
    change = api["result"]["totals"]["bed_days"]["difference"]["median"]
    assert f"<td>{change}</td>" in browser.get("/dashboard/whatif").text

    analyst = make_user("analyst", org=manager.org)
    reader = signed_in(quiet, analyst.token)
    assert reader.get(path).status_code == 200
    assert "Run the what-if" not in reader.get("/dashboard/whatif").text
    assert reader.post("/dashboard/whatif", data={}).status_code == 403

    stranger = signed_in(quiet, make_user("manager").token)
    assert stranger.get(path).status_code == 404


def test_the_dashboard_links_the_screen_for_those_who_may_read_it(
    quiet: TestClient, make_user: Any
) -> None:
    manager = signed_in(quiet, make_user("manager").token)
    assert 'href="/dashboard/whatif"' in manager.get("/dashboard").text
    team = signed_in(quiet, make_user("discharge_team").token)
    assert 'href="/dashboard/whatif"' not in team.get("/dashboard").text


def test_in_a_browser(browser: Any, live_server: str, make_user: Any, backend: str) -> None:
    """The form by keyboard, the run's page refreshing itself until the service's own job has
    carried it out, and both pages accessible at every width without sideways scrolling."""
    manager = make_user("manager")
    context, page, problems = new_page(browser)
    try:
        sign_in_with_token(page, live_server, manager.token, next_path="/dashboard/whatif")
        home = f"{live_server}/dashboard/whatif"
        for width, found in check_page(page, home, backend=backend).items():
            assert found == {"violations": [], "overflow": 0}, width
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(home)
        page.fill("#p1_starts_per_day", "5")
        page.fill("#weeks", "4")
        page.fill("#runs", "5")
        page.fill("#seed", "3")
        page.focus("form[action='/dashboard/whatif'] button")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert re.search(r"/dashboard/whatif/\d+$", page.url)
        # The page reloads itself every few seconds until the job is done.
        page.locator("#whatif-status", has_text="Done:").wait_for(timeout=60_000)
        assert "seed 3" in page.inner_text("#whatif-status")
        for width, found in check_page(page, page.url, backend=backend).items():
            assert found == {"violations": [], "overflow": 0}, width
    finally:
        context.close()
    assert problems.errors == []
