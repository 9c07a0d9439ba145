"""Signing in to the screens with a username and password, and choosing one's own password."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.auth.passwords import issue_password
from app.security.cookies import SESSION_COOKIE
from app.timeutil import utcnow

OWN = "correct horse battery staple"


def _browser(client: TestClient) -> TestClient:
    b = TestClient(client.app)
    b.headers["Origin"] = "http://testserver"  # as a browser's own form posts say
    return b


def _issue(sessions: sessionmaker[Session], user: Any, password: str | None = None) -> str:
    with sessions() as session:
        return issue_password(
            session,
            organisation=user.org,
            username=user.actor.username,
            set_by=None,
            now=utcnow(),
            password=password,
        ).password


def _form(user: Any, password: str, **extra: str) -> dict[str, str]:
    # The organisation code as people type it: any case, spaces around.
    return {
        "organisation": f" {user.org.lower()} ",
        "username": user.actor.username,
        "password": password,
        **extra,
    }


def test_sign_in_with_a_password_then_back_to_the_page_asked_for(
    client: TestClient, sessions, make_user
) -> None:  # noqa: ANN001
    user = make_user("manager")
    _issue(sessions, user, OWN)
    b = _browser(client)
    r = b.post("/sign-in", data=_form(user, OWN, next="/dashboard"), follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/dashboard")
    assert SESSION_COOKIE in r.headers["set-cookie"]
    assert b.get("/dashboard").status_code == 200
    assert user.actor.username in b.get("/").text


def test_every_wrong_combination_gets_the_same_answer_and_no_session(
    client: TestClient, sessions, make_user
) -> None:  # noqa: ANN001
    user = make_user("manager")
    other = make_user("manager")
    _issue(sessions, user, OWN)
    answers = []
    for form in (
        _form(user, OWN + "x"),  # wrong password
        {**_form(user, OWN), "username": "nobody-here"},  # unknown user
        {**_form(user, OWN), "organisation": other.org},  # right name, other organisation
    ):
        r = _browser(client).post("/sign-in", data=form, follow_redirects=False)
        assert r.status_code == 401
        assert "set-cookie" not in r.headers
        assert 'class="nhsuk-error-summary"' in r.text
        answers.append(r.text.count("The organisation, username or password is not right."))
    assert answers == [2, 2, 2]  # in the summary and beside the field, every time


def test_missing_fields_are_named_and_what_was_typed_is_kept(client: TestClient) -> None:
    r = _browser(client).post(
        "/sign-in", data={"organisation": "luhft", "username": "", "password": "x"}
    )
    assert r.status_code == 422
    assert "Enter your username." in r.text
    assert 'href="#username"' in r.text
    assert 'value="LUHFT"' in r.text


def test_a_locked_account_says_until_when(client: TestClient, sessions, make_user) -> None:  # noqa: ANN001
    user = make_user("manager")
    _issue(sessions, user, OWN)
    b = _browser(client)
    for _ in range(client.app.state.settings.password_max_failures):
        assert b.post("/sign-in", data=_form(user, "wrong password!")).status_code == 401
    r = b.post("/sign-in", data=_form(user, OWN), follow_redirects=False)
    assert r.status_code == 401
    assert "set-cookie" not in r.headers
    assert "locked" in r.text


def test_an_issued_password_must_be_replaced_before_anything_else(
    client: TestClient, sessions, make_user
) -> None:  # noqa: ANN001
    user = make_user("manager")
    issued = _issue(sessions, user)  # an administrator's: to be changed
    b = _browser(client)
    r = b.post("/sign-in", data=_form(user, issued, next="/dashboard"), follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/account/password?next=/dashboard")
    # Every screen sends them to choose a password first, and back afterwards.
    r = b.get("/dashboard", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/account/password?next=/dashboard")
    page = b.get("/account/password?next=/dashboard")
    assert "An administrator set your password" in page.text
    r = b.post(
        "/account/password",
        data={"current": issued, "new": "short", "confirm": "short", "next": "/dashboard"},
    )
    assert r.status_code == 422
    assert 'href="#new"' in r.text
    r = b.post(
        "/account/password",
        data={"current": issued, "new": OWN, "confirm": OWN + "!", "next": "/dashboard"},
    )
    assert (r.status_code, 'href="#confirm"' in r.text) == (422, True)
    r = b.post(
        "/account/password",
        data={"current": issued, "new": OWN, "confirm": OWN, "next": "/dashboard"},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/dashboard?password_changed=1")
    assert b.get("/dashboard", follow_redirects=False).status_code == 200  # still signed in
    # The new password signs in; the issued one no longer does.
    assert _browser(client).post("/sign-in", data=_form(user, issued)).status_code == 401
    r = _browser(client).post("/sign-in", data=_form(user, OWN), follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/")


def test_a_cross_site_sign_in_form_signs_no_one_in(client: TestClient, sessions, make_user) -> None:  # noqa: ANN001
    user = make_user("manager")
    _issue(sessions, user, OWN)
    b = TestClient(client.app)
    r = b.post(
        "/sign-in",
        data=_form(user, OWN),
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert (r.status_code, r.json()["code"]) == (403, "cross_site_request")
    assert "set-cookie" not in r.headers
