"""The /tracker page over HTTP (a signed-in browser session, no JavaScript): rows, count,
filters in the address, sortable headings, pages, the print view, the CSV, the grant levels,
the access audit and refused input."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.models.access import AccessRecord, AccessRecordCase
from app.web import tracker as tracker_page
from tests.discharge.tracker_ward import Ward

SIGN_IN_ORIGIN = {"Origin": "http://testserver"}


class Page(HTMLParser):
    """What the tests read of a page: the table's headings and rows, links, selects."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.headings: list[dict[str, Any]] = []
        self.rows: list[list[str]] = []
        self.row_links: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.selected: dict[str, str] = {}
        self.forms = 0
        self._in: list[str] = []
        self._text: list[str] = []
        self._href: str | None = None
        self._select: str | None = None
        self.text_parts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms += 1
        if tag == "th":
            self.headings.append({"aria_sort": a.get("aria-sort"), "href": None, "text": ""})
        if tag == "tr" and "tbody" in self._in:
            self.rows.append([])
        if tag == "td":
            self._text = []
        if tag == "a":
            self._href = a.get("href")
            self._text = [] if "td" not in self._in else self._text
            if "th" in self._in:
                self.headings[-1]["href"] = a.get("href")
            if "td" in self._in and self.rows and not self.rows[-1]:
                self.row_links.append(str(a.get("href")))
        if tag == "select":
            self._select = a.get("name")
        if tag == "option" and "selected" in a and self._select:
            self.selected[self._select] = str(a.get("value"))
        if tag not in ("br", "input", "meta", "link", "hr", "img"):
            self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.rows:
            self.rows[-1].append(" ".join("".join(self._text).split()))
        if tag == "a" and self._href is not None and "td" not in self._in:
            self.links.append((" ".join("".join(self._text).split()), self._href))
        if tag == "a":
            self._href = None
        if tag == "select":
            self._select = None
        while self._in and self._in[-1] != tag:
            self._in.pop()
        if self._in:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        self.text_parts.append(data)
        if "th" in self._in and self.headings:
            self.headings[-1]["text"] += data

    @property
    def text(self) -> str:
        return " ".join("".join(self.text_parts).split())

    def heading(self, starts: str) -> dict[str, Any]:
        return next(h for h in self.headings if " ".join(h["text"].split()).startswith(starts))

    def link(self, text: str) -> str:
        return next(href for t, href in self.links if t.startswith(text))


@pytest.fixture(scope="module")
def ward(client: TestClient, make_user_module: Any) -> Ward:
    return Ward(client, make_user_module)


def browser_for(client: TestClient, token: str) -> TestClient:
    """A browser signed in through the sign-in page (a session cookie, no bearer token)."""
    b = TestClient(client.app)
    b.headers.update(SIGN_IN_ORIGIN)
    r = b.post("/sign-in/token", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return b


@pytest.fixture(scope="module")
def team(client: TestClient, ward: Ward) -> TestClient:
    return browser_for(client, ward.team.token)


def open_page(browser: TestClient, address: str, status: int = 200) -> Page:
    r = browser.get(address)
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("text/html")
    return Page(r.text)


def names(ward: Ward, page: Page) -> list[str]:
    return [ward.name(int(href.rsplit("/", 1)[1])) for href in page.row_links]


def test_the_tracker_lists_the_inpatients_most_delayed_first(ward: Ward, team: TestClient) -> None:
    page = open_page(team, "/tracker")
    assert names(ward, page) == ["cy", "ada", "ben", "shared", "di", "flo"]
    assert "6 patients" in page.text
    assert page.heading("Days delayed")["aria_sort"] == "descending"
    assert [h["aria_sort"] for h in page.headings].count(None) == len(page.headings) - 1
    # Ada's row: NHS number, site, ward, state, criteria, DRD, days, pathway, reason, person.
    ada = page.rows[1]
    assert ada[0] == "999 000 0018"
    assert ada[1:4] == [ward.site_a, "Ward 7", "Awaiting support"]
    assert ada[4].startswith("Not meeting since ")
    assert (ada[6], ada[7]) == ("6", "P1")
    assert ada[8].startswith("Capacity – Home-based rehabilitation")
    assert (ada[10], ada[11]) == ("Nurse Ada", "Yes: 6 days, no package")
    di = page.rows[4]
    assert (di[4], di[5], di[6]) == ("Meets", "", "")
    # Each row opens the case's page.
    assert page.row_links[0] == f"/tracker/cases/{ward.ids['cy']}"


def test_filters_are_the_address(ward: Ward, team: TestClient) -> None:
    page = open_page(team, f"/tracker?site={ward.site_a}&escalated=no")
    assert names(ward, page) == ["ben", "flo"]
    assert page.selected["site"] == ward.site_a
    assert page.selected["escalated"] == "no"
    assert page.selected["ward"] == ""
    assert "2 patients" in page.text
    page = open_page(team, "/tracker?pathway=none&min_days=1")
    assert names(ward, page) == ["ben", "shared"]
    page = open_page(team, "/tracker?state=assessing&site=&ward=")  # empty fields: no filter
    assert names(ward, page) == ["di"]
    page = open_page(team, f"/tracker?ward=Ward+9&site={ward.site_a}&max_days=1")
    assert names(ward, page) == []
    assert "No patients match these filters." in page.text
    # A filter value from an old bookmark stays selected, marked as gone.
    page = open_page(team, "/tracker?ward=Ward+99")
    assert page.selected["ward"] == "Ward 99"


def test_headings_sort_and_keep_the_filters(ward: Ward, team: TestClient) -> None:
    page = open_page(team, f"/tracker?site={ward.site_b}")
    href = page.heading("Ward")["href"]
    assert parse_qs(urlsplit(href).query) == {"site": [ward.site_b], "sort": ["ward"]}
    by_ward = open_page(team, href)
    assert names(ward, by_ward) == ["shared", "cy", "di"]  # Ward 2, Ward 7, Ward 9
    assert by_ward.heading("Ward")["aria_sort"] == "ascending"
    again = by_ward.heading("Ward")["href"]
    assert parse_qs(urlsplit(again).query)["sort"] == ["-ward"]
    assert open_page(team, again).heading("Ward")["aria_sort"] == "descending"
    # The longest wait first on the first click of "Days delayed" when sorted by another key.
    days = by_ward.heading("Days delayed")["href"]
    assert "sort" not in parse_qs(urlsplit(days).query)  # the default: -days_delayed


def test_pages(ward: Ward, team: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracker_page, "PAGE_SIZE", 4)
    first = open_page(team, "/tracker?sort=case_id")
    assert "6 patients, showing 1 to 4" in first.text
    second_href = first.link("Next")
    assert parse_qs(urlsplit(second_href).query) == {"sort": ["case_id"], "page": ["2"]}
    second = open_page(team, second_href)
    assert "6 patients, showing 5 to 6" in second.text
    seen = [*first.row_links, *second.row_links]
    assert seen == sorted(seen, key=lambda h: int(h.rsplit("/", 1)[1]))
    assert len(set(seen)) == 6
    assert "Next" not in [t for t, _ in second.links]
    assert open_page(team, "/tracker?page=9").rows == []


def test_print_view_has_every_row_and_no_form(
    ward: Ward, team: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracker_page, "PAGE_SIZE", 2)
    page = open_page(team, f"/tracker?site={ward.site_a}")
    printed = open_page(team, page.link("Print view"))
    assert len(printed.rows) == 3
    assert printed.forms == 1  # the header's sign-out only: no filter form
    assert f"Filtered by site {ward.site_a}." in printed.text
    assert "Next" not in [t for t, _ in printed.links]


def test_the_csv_is_the_ready_for_discharge_list(ward: Ward, team: TestClient, client) -> None:  # noqa: ANN001
    page = open_page(team, f"/tracker?site={ward.site_a}&state=referred")
    href = page.link("Download the Ready-for-Discharge list")
    assert parse_qs(urlsplit(href).query) == {"site": [ward.site_a]}  # the RFD list's filters
    r = team.get(href)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    api = client.get(
        "/api/v1/rfd", params={"site": ward.site_a, "format": "csv"}, headers=ward.team.headers
    )
    assert r.text == api.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [int(row["case_id"]) for row in rows] == [ward.ids["ada"], ward.ids["ben"]]


def test_an_analyst_gets_the_rows_without_nhs_numbers(
    ward: Ward, client: TestClient, make_user: Any
) -> None:
    analyst = browser_for(client, make_user("analyst", org=ward.org).token)
    page = open_page(analyst, "/tracker")
    assert len(page.rows) == 6
    assert all(row[0].startswith("Case ") and "NHS number withheld" in row[0] for row in page.rows)
    html = analyst.get("/tracker").text
    for nhs in ward.nhs.values():
        assert nhs not in html
        assert f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}" not in html
    r = analyst.get(f"/tracker/rfd.csv?site={ward.site_a}")
    assert {row["nhs_number"] for row in csv.DictReader(io.StringIO(r.text))} == {""}


def test_who_may_open_it(ward: Ward, client: TestClient, make_user: Any) -> None:
    assert TestClient(client.app).get("/tracker", follow_redirects=False).status_code == 303
    officer = browser_for(client, make_user("ig_officer", org=ward.org).token)
    assert officer.get("/tracker").status_code == 403
    assert officer.get("/tracker/rfd.csv").status_code == 403
    stranger = browser_for(client, make_user("discharge_team").token)
    assert open_page(stranger, "/tracker").rows == []


def test_each_view_is_in_the_access_audit(
    ward: Ward, team: TestClient, sessions: sessionmaker[Session]
) -> None:
    open_page(team, f"/tracker?site={ward.site_b}&sort=case_id")
    with sessions() as session:
        entry = session.execute(
            select(AccessRecord)
            .where(
                AccessRecord.endpoint == "/tracker",
                AccessRecord.username == ward.team.actor.username,
            )
            .order_by(AccessRecord.id.desc())
            .limit(1)
        ).scalar_one()
        cases = session.execute(
            select(AccessRecordCase.case_id).where(AccessRecordCase.record_id == entry.id)
        ).scalars()
        assert sorted(cases) == sorted(ward.ids[k] for k in ("cy", "di", "shared"))
    assert entry.query == f"site={ward.site_b}&sort=case_id"


@pytest.mark.parametrize(
    "address",
    [
        "/tracker?min_days=abc",
        "/tracker?max_days=-1",
        "/tracker?escalated=maybe",
        "/tracker?sort=nonsense",
        "/tracker?state=discharged",
        "/tracker?pathway=P9",
        "/tracker?page=0",
        "/tracker?site=" + "x" * 65,
        "/tracker/rfd.csv?pathway=P9",
    ],
)
def test_bad_addresses_are_refused_as_a_page(team: TestClient, address: str) -> None:
    r = team.get(address)
    assert r.status_code == 422, (address, r.status_code)
    assert r.headers["content-type"].startswith("text/html")
