"""Errors on the screens are pages a person can act on; the API keeps its JSON problems."""

from __future__ import annotations

from fastapi.testclient import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml"}


def test_an_unknown_address_is_a_page_for_a_browser_and_json_for_a_program(
    client: TestClient,
) -> None:
    page = client.get("/no/such/screen", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert '<h1 class="nhsuk-heading-l">Page not found</h1>' in page.text
    assert client.get("/no/such/screen").json()["code"] == "not_found"
    api = client.get("/api/v1/no/such/thing", headers=HTML)
    assert (api.status_code, api.json()["code"]) == (404, "not_found")


def test_an_empty_or_oversized_sign_in_form_is_shown_again_with_the_error(
    client: TestClient,
) -> None:
    browser = TestClient(client.app)
    browser.headers["Origin"] = "http://testserver"
    r = browser.post("/sign-in/token", data={"token": "  "}, follow_redirects=False)
    assert r.status_code == 422
    assert "Enter your access token." in r.text
    assert 'class="nhsuk-error-summary"' in r.text
    assert "set-cookie" not in r.headers
    r = browser.post("/sign-in/token", data={"token": "x" * 201}, follow_redirects=False)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert "The form could not be read" in r.text
    assert "set-cookie" not in r.headers


def test_the_favicon_is_served(client: TestClient) -> None:
    r = client.get("/favicon.ico")
    assert r.status_code == 200
    assert r.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
