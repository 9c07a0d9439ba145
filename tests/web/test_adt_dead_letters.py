"""`/adt/dead-letters`: the PAS messages HomeFirst refused, listed, retried and dismissed by a
person through the screen (a signed-in browser session, forms posted from this site), on SQLite
and PostgreSQL.

Dead letters are made the way the feed makes them: real HL7 v2 messages through
`AdtService.receive`, from an interface of the test's own organisation (tests/web/adt_helpers.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.adt.sample import synthetic_nhs_numbers as nhs_numbers
from app.auth.access import AccessFile, AccessPolicy
from app.models.access import AccessRecord, AccessRecordCase
from app.models.adt import AdtMessage
from app.timeutil import utcnow
from app.web import adt_dead_letters as screen
from app.web.adt_view import WITHHELD, readable_lines, when
from tests.conftest import TestUser as User
from tests.helpers import Api
from tests.web.adt_helpers import PasFeed, ScreenPage, signed_in

LIST = "/adt/dead-letters"


@pytest.fixture
def desk(client: TestClient, make_user: Any) -> Iterator[Desk]:
    """An organisation with its own PAS interface (installed as the app's feed for the test)
    and a discharge team member signed in."""
    team = make_user("discharge_team")
    feed = PasFeed.for_organisation(client, team.org)
    state = client.app.state  # swapped by hand: monkeypatch cannot restore a Starlette State
    installed = state.adt
    state.adt = feed.service
    try:
        yield Desk(client, feed, team, signed_in(client, team.token), make_user)
    finally:
        state.adt = installed


class Desk:
    def __init__(
        self, client: TestClient, feed: PasFeed, team: User, browser: TestClient, make: Any
    ) -> None:
        self.client, self.feed, self.team, self.browser, self.make = (
            client,
            feed,
            team,
            browser,
            make,
        )
        self.now = utcnow().replace(microsecond=0)
        self.patients = iter(nhs_numbers(7100, 40))

    def patient(self) -> str:
        return next(self.patients)

    def ago(self, **kwargs: float) -> datetime:
        return self.now - timedelta(**kwargs)

    def refused_transfer(self, nhs: str, *, minutes_ago: float = 30) -> int:
        """An A02 for a patient HomeFirst has no spell for: refused, `no_open_spell`."""
        r = self.feed.send(
            "A02", nhs, at=self.ago(minutes=minutes_ago + 5), received=self.ago(minutes=minutes_ago)
        )
        assert (r.code, r.error_code) == ("AE", "no_open_spell")
        assert r.message_id is not None
        return r.message_id

    def admit(self, nhs: str, *, hours_ago: float = 6) -> None:
        at = self.ago(hours=hours_ago)
        r = self.feed.send("A01", nhs, at=at, received=at, location="W11^^BED 3^SDGH")
        assert (r.code, r.outcome) == ("AA", "applied"), r

    def page(
        self, address: str = LIST, status: int = 200, who: TestClient | None = None
    ) -> ScreenPage:
        r = (who or self.browser).get(address)
        assert r.status_code == status, r.text[:800]
        assert r.headers["content-type"].startswith("text/html")
        return ScreenPage(r.text)

    def post(self, address: str, status: int = 303, **form: str) -> Any:
        r = self.browser.post(address, data=form, follow_redirects=False)
        assert r.status_code == status, r.text[:800]
        return r

    def row(self, message_id: int) -> AdtMessage:
        with self.client.app.state.sessions() as session:
            found = session.get(AdtMessage, message_id)
            assert found is not None
            session.expunge(found)
            return found


def test_the_list_shows_each_waiting_message_newest_first(desk: Desk) -> None:
    stranger, known = desk.patient(), desk.patient()
    no_spell = desk.refused_transfer(stranger, minutes_ago=50)
    desk.admit(known, hours_ago=5)
    applied = desk.feed.send("A02", known, at=desk.ago(hours=2), received=desk.ago(hours=2))
    assert applied.outcome == "applied"
    late = desk.feed.send(
        "A02", known, at=desk.ago(hours=3), received=desk.ago(minutes=10), location="W2^^1^SDGH"
    )
    assert late.error_code == "out_of_order"
    page = desk.page()
    assert page.ids == [late.message_id, no_spell]  # the applied ones are not waiting
    assert "2 messages waiting." in page.text
    card = page.card(no_spell)
    interface = desk.feed.interface
    assert card.facts["Received"] == when(desk.ago(minutes=50))
    assert (
        card.facts["Sender"] == f"PAS at {interface.sending_facility} (interface {interface.key})"
    )
    assert card.facts["Message type"] == "ADT^A02"
    assert card.facts["Control id"] == desk.feed.control_id(1)
    assert card.facts["Why it was refused"].startswith(
        "The patient has no open hospital spell. ADT^A02: the patient has no open hospital spell"
    )
    assert "Code no_open_spell, answered AE" in card.facts["Why it was refused"]
    assert card.facts["Attempts"] == "1"
    assert card.facts["Case"] == "None"
    assert (
        page.card(late.message_id)
        .facts["Why it was refused"]
        .startswith("Arrived after a later message. A later location")
    )
    # The message as received, a segment a line, the NHS number shown to a full grant.
    lines = card.raw.split("\n")
    assert [line[:3] for line in lines] == ["MSH", "EVN", "PID", "PV1"]
    assert lines[2].startswith(f"PID|1||{stranger}^^^NHS^NH")
    assert WITHHELD not in page.html
    # A resolver gets both forms for each message; the heading opens its own page.
    assert card.forms == [f"{LIST}/{no_spell}/retry", f"{LIST}/{no_spell}/dismiss"]
    assert page.link("A02 transfer") == f"{LIST}/{late.message_id}"
    # The header names the screen.
    assert ("PAS messages", LIST) in page.links


def test_retry_applies_it_once_the_admission_has_arrived(desk: Desk) -> None:
    nhs = desk.patient()
    message_id = desk.refused_transfer(nhs)
    # Too early: still refused, and the page after says so and why.
    r = desk.post(f"{LIST}/{message_id}/retry")
    assert r.headers["location"] == f"{LIST}?done=retried&message={message_id}"
    page = desk.page(r.headers["location"])
    assert not page.banner_is_success()
    assert page.banner().startswith("Still refused Message ")
    assert "is still refused. The patient has no open hospital spell." in page.banner()
    assert page.card(message_id).facts["Attempts"] == "2"
    # The admission arrives; the transfer now applies to its case.
    desk.admit(nhs, hours_ago=6)
    r = desk.post(f"{LIST}/{message_id}/retry")
    page = desk.page(r.headers["location"])
    row = desk.row(message_id)
    assert (row.outcome, row.events, row.resolved_by) == (
        "applied",
        "ward_transfer",
        desk.team.actor.username,
    )
    assert page.banner_is_success()
    assert f"was applied to case {row.case_id}, recording: Ward transfer" in page.banner()
    assert ("Open case " + str(row.case_id), f"/tracker/cases/{row.case_id}") in page.links
    assert page.ids == []
    assert "No messages are waiting." in page.text
    # The case's history has the transfer, written by the interface with the message named.
    history = Api(desk.client, desk.team.headers).history(row.case_id)
    transfer = history[-1]
    assert (transfer["event"], transfer["data"]["ward"]) == ("ward_transfer", "Ward 15")
    assert transfer["actor"]["username"] == desk.feed.interface.username
    assert row.control_id in transfer["reason"]
    # The message's own page says what became of it; the API agrees it waits no more.
    one = desk.page(f"{LIST}/{message_id}")
    assert "Applied on retry" in one.text
    assert one.facts["Resolved by"] == desk.team.actor.username
    assert one.facts["Recorded on the case"] == "Ward transfer"
    assert one.facts["Case"] == f"Case {row.case_id}"
    assert one.forms == ["/sign-out"]  # nothing left to resolve
    api = desk.client.get("/api/v1/adt/dead-letters", headers=desk.team.headers).json()
    assert api["total"] == 0


def test_a_retry_of_an_older_location_is_still_refused_and_says_why(desk: Desk) -> None:
    nhs = desk.patient()
    desk.admit(nhs, hours_ago=6)
    moved = desk.feed.send("A02", nhs, at=desk.ago(hours=2), received=desk.ago(hours=2))
    assert moved.outcome == "applied"
    # Two messages older than the transfer arrive late: another transfer, and an update with
    # the expected discharge date.
    late_move = desk.feed.send(
        "A02", nhs, at=desk.ago(hours=3), received=desk.ago(hours=1), location="W2^^1^SDGH"
    )
    edd = (desk.now + timedelta(days=3)).strftime("%Y%m%d")
    late_update = desk.feed.send(
        "A08", nhs, at=desk.ago(hours=4), received=desk.ago(minutes=59), edd=edd
    )
    assert late_move.error_code == late_update.error_code == "out_of_order"
    # From the message's own page: an older location is never applied over a newer one, so
    # a retry refuses it again, saying why; a person checks the ward and dismisses it.
    r = desk.post(f"{LIST}/{late_move.message_id}/retry", back="message")
    assert r.headers["location"] == f"{LIST}/{late_move.message_id}?done=retried"
    page = desk.page(r.headers["location"])
    assert "is still refused. Arrived after a later message." in page.banner()
    assert "would put the patient back where they were" in page.banner()
    assert page.facts["Why it was refused"].startswith("Arrived after a later message.")
    assert page.facts["Attempts"] == "2"
    assert "Waiting" in page.text
    # The late update carries a location too: the same.
    r = desk.post(f"{LIST}/{late_update.message_id}/retry", back="message")
    assert desk.row(late_update.message_id).outcome == "rejected"
    # Each names the case it was about.
    assert desk.row(late_move.message_id).case_id == desk.row(moved.message_id).case_id
    assert set(desk.page().ids) == {late_move.message_id, late_update.message_id}


def test_dismissing_needs_a_reason_and_records_it(desk: Desk) -> None:
    message_id = desk.refused_transfer(desk.patient())
    address = f"{LIST}/{message_id}/dismiss"
    for typed, problem in [
        ("   ", "Enter why this message is dismissed"),
        ("no", "The reason must be at least 3 characters"),
        ("x" * 501, "The reason must be 500 characters or fewer"),
        ("bell \x07 ringing", "The reason must be plain text"),
    ]:
        r = desk.post(address, status=422, reason=typed)
        page = ScreenPage(r.text)
        assert page.errors() == [(problem, f"#reason-{message_id}")]
        assert f"Error: {problem}" in page.card(message_id).text
        assert f'id="reason-{message_id}"' in r.text
        assert "<title>Error: Refused PAS messages" in r.text
        if typed.strip():
            assert f"{typed}</textarea>" in r.text.replace("&#34;", '"')  # kept as typed
    assert desk.row(message_id).outcome == "rejected"
    reason = "Entered in error; the PAS record was corrected by the ward clerk."
    r = desk.post(address, reason=f"  {reason} ")
    page = desk.page(r.headers["location"])
    assert page.banner_is_success()
    assert f"was dismissed by {desk.team.actor.username}: {reason}" in page.banner()
    assert page.ids == []
    row = desk.row(message_id)
    assert (row.outcome, row.resolution, row.resolved_by) == (
        "dismissed",
        reason,
        desk.team.actor.username,
    )
    one = desk.page(f"{LIST}/{message_id}")
    assert one.facts["Reason for dismissing"] == reason
    assert "Dismissed" in one.text
    # Resolved already: a second try (a stale page, another person) is refused and says so.
    r = desk.post(f"{LIST}/{message_id}/retry", status=409)
    assert ScreenPage(r.text).errors() == [
        (
            f"ADT message {message_id} is not a dead letter (it is dismissed).",
            f"{LIST}/{message_id}",
        )
    ]
    assert desk.row(message_id).attempts == 1


def test_only_the_resolvers_may_retry_or_dismiss(desk: Desk) -> None:
    message_id = desk.refused_transfer(desk.patient())
    # A role without the read: no page, and no change by posting.
    clinician = signed_in(desk.client, desk.make("ward_clinician", org=desk.team.org).token)
    assert clinician.get(LIST).status_code == 403
    assert clinician.get(f"{LIST}/{message_id}").status_code == 403
    assert clinician.post(f"{LIST}/{message_id}/retry").status_code == 403
    assert (
        clinician.post(f"{LIST}/{message_id}/dismiss", data={"reason": "not ours"}).status_code
        == 403
    )
    # A role given the read but not among the resolvers: reads, sees no forms, posts 403.
    state = desk.client.app.state
    policy = state.access
    state.access = _with_readers("adt.messages", "huddle_chair")
    try:
        chair = signed_in(desk.client, desk.make("huddle_chair", org=desk.team.org).token)
        page = desk.page(who=chair)
        assert page.ids == [message_id]
        assert page.card(message_id).forms == []
        assert "The discharge team and managers retry or dismiss them." in page.text
        assert chair.post(f"{LIST}/{message_id}/retry").status_code == 403
        dismissed = chair.post(f"{LIST}/{message_id}/dismiss", data={"reason": "not ours"})
        assert dismissed.status_code == 403
    finally:
        state.access = policy
    # Signed out: sign in first; from another site: refused before anything runs.
    stranger = TestClient(desk.client.app)
    r = stranger.get(f"{LIST}/{message_id}", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"/?next={LIST}/{message_id}")
    forged = desk.browser.post(
        f"{LIST}/{message_id}/dismiss",
        data={"reason": "cross-site"},
        headers={"Origin": "https://elsewhere.example"},
    )
    assert (forged.status_code, forged.json()["code"]) == (403, "cross_site_request")
    row = desk.row(message_id)
    assert (row.outcome, row.attempts) == ("rejected", 1)


def test_another_organisations_message_is_not_found(desk: Desk) -> None:
    message_id = desk.refused_transfer(desk.patient())
    other = desk.make("discharge_team")
    elsewhere = signed_in(desk.client, other.token)
    page = desk.page(f"{LIST}?done=retried&message={message_id}", who=elsewhere)
    assert page.ids == []
    assert page.banner() == ""  # the banner reads only the person's own organisation's
    assert "No messages are waiting." in page.text
    for r in (
        elsewhere.get(f"{LIST}/{message_id}"),
        elsewhere.post(f"{LIST}/{message_id}/retry"),
        elsewhere.post(f"{LIST}/{message_id}/dismiss", data={"reason": "not ours"}),
    ):
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("text/html")
    row = desk.row(message_id)
    assert (row.outcome, row.attempts) == ("rejected", 1)
    # A message that was never refused is not this screen's either.
    nhs = desk.patient()
    desk.admit(nhs)
    applied = desk.feed.send("A02", nhs, at=desk.ago(hours=1), received=desk.ago(hours=1))
    assert desk.browser.get(f"{LIST}/{applied.message_id}").status_code == 404
    assert desk.browser.post(f"{LIST}/{applied.message_id}/retry").status_code == 404


def test_pages_of_messages_newest_first(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screen, "PAGE_SIZE", 2)
    ids = [desk.refused_transfer(desk.patient(), minutes_ago=50 - i) for i in range(5)]
    seen: list[int] = []
    address: str | None = LIST
    pages = 0
    while address is not None:
        page = desk.page(address)
        assert "5 messages waiting" in page.text
        seen += page.ids
        pages += 1
        assert (pages > 1) == ("Newest messages" in [t for t, _ in page.links])
        older = [href for text, href in page.links if text == "Older messages"]
        address = older[0] if older else None
    assert pages == 3
    assert seen == sorted(ids, reverse=True)
    assert desk.page(f"{LIST}?before={min(ids)}").ids == []
    assert "No older messages are waiting." in desk.page(f"{LIST}?before={min(ids)}").text


def test_an_unreadable_message_cannot_be_retried_but_can_be_dismissed(desk: Desk) -> None:
    receipt = desk.feed.send_unreadable(
        "not an HL7 message\rsecond line", received=desk.ago(minutes=5)
    )
    assert (receipt.code, receipt.error_code) == ("AR", "unparseable")
    message_id = receipt.message_id
    card = desk.page().card(message_id)
    assert card.facts["Sender"] == "Not known (the message cannot be read)"
    assert card.raw == "not an HL7 message\nsecond line"
    r = desk.post(f"{LIST}/{message_id}/retry", status=409)
    (error,) = ScreenPage(r.text).errors()
    assert "cannot be applied (The message does not start with MSH.); dismiss it" in error[0]
    assert desk.row(message_id).outcome == "rejected"
    desk.post(f"{LIST}/{message_id}/dismiss", reason="Test message from the PAS supplier")
    assert desk.row(message_id).outcome == "dismissed"


def test_every_view_is_in_the_access_audit(desk: Desk, sessions: sessionmaker[Session]) -> None:
    nhs = desk.patient()
    message_id = desk.refused_transfer(nhs)
    desk.page()
    desk.admit(nhs)
    done = desk.post(f"{LIST}/{message_id}/retry").headers["location"]
    desk.page(done)
    desk.page(f"{LIST}/{message_id}")
    case_id = desk.row(message_id).case_id
    with sessions() as session:
        records = session.scalars(
            select(AccessRecord)
            .where(AccessRecord.username == desk.team.actor.username)
            .order_by(AccessRecord.id)
        ).all()
        views = [(r.method, r.endpoint, r.query) for r in records]
        cases = {
            r.id: sorted(
                session.scalars(
                    select(AccessRecordCase.case_id).where(AccessRecordCase.record_id == r.id)
                )
            )
            for r in records
        }
    assert views == [
        ("GET", LIST, ""),
        ("GET", LIST, f"done=retried&message={message_id}"),
        ("GET", f"{LIST}/{{message_id}}", ""),
    ]
    assert [cases[r.id] for r in records] == [[], [case_id], [case_id]]


@pytest.mark.parametrize(
    "address",
    [
        f"{LIST}?before=abc",
        f"{LIST}?before=0",
        f"{LIST}?done=maybe",
        f"{LIST}?message=-1",
        f"{LIST}/abc",
        f"{LIST}/0",
    ],
)
def test_bad_addresses_are_refused_as_a_page(desk: Desk, address: str) -> None:
    r = desk.browser.get(address)
    assert r.status_code == 422, (address, r.status_code)
    assert r.headers["content-type"].startswith("text/html")


def test_bad_forms_are_refused_as_a_page(desk: Desk) -> None:
    message_id = desk.refused_transfer(desk.patient())
    for address, form, status in [
        (f"{LIST}/{message_id}/retry", {"back": "elsewhere"}, 422),
        (f"{LIST}/{message_id}/dismiss", {"reason": "x" * 10_001}, 422),
        (f"{LIST}/{message_id}/retry", {"before": "9" * 21}, 422),
        (f"{LIST}/99999999999/retry", {}, 404),
        (f"{LIST}/99999999999/dismiss", {"reason": "a good reason"}, 404),
    ]:
        r = desk.browser.post(address, data=form, follow_redirects=False)
        assert r.status_code == status, (address, form, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
    row = desk.row(message_id)
    assert (row.outcome, row.attempts) == ("rejected", 1)


def test_the_home_page_counts_the_waiting_messages(desk: Desk) -> None:
    first = desk.refused_transfer(desk.patient(), minutes_ago=40)
    desk.refused_transfer(desk.patient(), minutes_ago=30)
    home = desk.browser.get("/").text
    assert f'href="{LIST}"' in home
    assert "retry or dismiss each. 2 messages waiting." in home
    desk.post(f"{LIST}/{first}/dismiss", reason="Sent twice by the PAS")
    assert "retry or dismiss each. 1 message waiting." in desk.browser.get("/").text
    # Nobody without the read is shown the screen, nor a count.
    clinician = signed_in(desk.client, desk.make("ward_clinician", org=desk.team.org).token)
    assert LIST not in clinician.get("/").text


def test_nhs_numbers_are_withheld_from_a_grant_without_identifiers() -> None:
    raw = (
        "MSH|^~\\&|PAS|RVY|HOMEFIRST|SEFTON|20261201100000||ADT^A02^ADT_A01|C1|P|2.4\r"
        "PID|1||9434765919^^^NHS^NH~RVY0001200^^^RVY^MR||TEST^PAT\r\n"
        "NTE|1||called about 943 476 5919"
    )
    assert readable_lines(raw, identifiers=True)[1].startswith("PID|1||9434765919^^^NHS^NH")
    shown = readable_lines(raw, identifiers=False)
    assert shown == [
        "MSH|^~\\&|PAS|RVY|HOMEFIRST|SEFTON|20261201100000||ADT^A02^ADT_A01|C1|P|2.4",
        f"PID|1||{WITHHELD}^^^NHS^NH~RVY0001200^^^RVY^MR||TEST^PAT",
        f"NTE|1||called about {WITHHELD}",
    ]


def _with_readers(read: str, *roles: str) -> AccessPolicy:
    """The service's access policy with `roles` also granted `read` in full."""
    from app.auth.access import READS, load_access
    from app.config import PROJECT_ROOT

    policy = load_access(PROJECT_ROOT / "pathways" / "config")
    reads: dict[str, dict[str, tuple[str, ...]]] = {}
    for name in READS:
        levels: dict[str, list[str]] = {}
        for role, level in policy.roles(name).items():
            levels.setdefault(level, []).append(role)
        if name == read:
            levels.setdefault("full", []).extend(roles)
        reads[name] = {level: tuple(sorted(granted)) for level, granted in levels.items()}
    return AccessPolicy(AccessFile.model_validate({"reads": reads}))
