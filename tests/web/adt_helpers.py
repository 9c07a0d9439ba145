"""Helpers for the refused PAS messages' screen tests: an ADT interface of a test's own
organisation (so its dead letters are its own, in the database the session shares), HL7 v2
messages as a PAS sends them, and what a page of the screen shows.

Messages go through the real `AdtService.receive` (parsing, the feed, the message log) with an
interfaces configuration naming the test's organisation, as `adt-interfaces.yaml` would.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from html import unescape
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from app.adt.config import AdtInterfaces, Interface
from app.adt.service import AdtService, Receipt
from app.timeutil import LONDON


@dataclass
class PasFeed:
    """One PAS interface sending for `organisation` through the real service."""

    client: TestClient
    organisation: str
    service: AdtService
    interface: Interface
    prefix: str  # of the control ids (MSH-10) this feed sends
    sent: int = 0

    @classmethod
    def for_organisation(cls, client: TestClient, organisation: str) -> PasFeed:
        facility = f"T{uuid.uuid4().hex[:8].upper()}"
        interface = Interface(
            key=f"test-{facility.lower()}",
            sending_application="PAS",
            sending_facility=facility,
            organisation=organisation,
            username=f"pas-{facility.lower()}",
            hospital_system="S&O",
            sites={"SDGH": "SOUTHPORT"},
            wards={"W11": "Ward 11", "W15": "Ward 15", "W2": "Ward 2"},
        )
        current: AdtService = client.app.state.adt  # type: ignore[attr-defined]
        service = AdtService(current.writer, AdtInterfaces(interfaces=(interface,)))
        return cls(client, organisation, service, interface, facility)

    @classmethod
    def configured(cls, client: TestClient, key: str) -> PasFeed:
        """The app's own feed, as `adt-interfaces.yaml` configures interface `key` (for a
        server on the session's database), with control ids of this feed's own."""
        service: AdtService = client.app.state.adt  # type: ignore[attr-defined]
        interface = service.interfaces.by_key(key)
        assert interface is not None, key
        prefix = f"T{uuid.uuid4().hex[:8].upper()}"
        return cls(client, interface.organisation, service, interface, prefix)

    def control_id(self, number: int) -> str:
        return f"{self.prefix}-{number:03d}"

    def send(
        self,
        trigger: str,
        nhs_number: str,
        *,
        at: datetime,
        received: datetime,
        location: str = "W15^^BED 2^SDGH",
        edd: str | None = None,
    ) -> Receipt:
        raw = self.message(trigger, nhs_number, at=at, location=location, edd=edd)
        with self.client.app.state.sessions() as session:  # type: ignore[attr-defined]
            return self.service.receive(session, raw, now=received)

    def send_unreadable(self, text: str, *, received: datetime) -> Receipt:
        """A message that cannot be parsed, as the interface's own user sent it over HTTP."""
        with self.client.app.state.sessions() as session:  # type: ignore[attr-defined]
            actor = self.service.actor_for(session, self.interface)
            return self.service.receive(session, text, now=received, via=actor)

    def message(
        self,
        trigger: str,
        nhs_number: str,
        *,
        at: datetime,
        location: str,
        edd: str | None = None,
    ) -> str:
        self.sent += 1
        control_id = self.control_id(self.sent)
        ts = at.astimezone(LONDON).strftime("%Y%m%d%H%M%S")
        facility = self.interface.sending_facility
        pv1 = ["PV1", "1", "I", location] + [""] * 40 + [ts]
        segments = [
            f"MSH|^~\\&|PAS|{facility}|HOMEFIRST|SEFTON|{ts}||ADT^{trigger}^ADT_A01|"
            f"{control_id}|P|2.4",
            f"EVN|{trigger}|{ts}",
            f"PID|1||{nhs_number}^^^NHS^NH~H{nhs_number[-6:]}^^^{facility}^MR||TEST^PAT||19400101|U",
            "|".join(pv1),
        ]
        if edd:
            segments.append(f"PV2|||||||||{edd}")
        return "\r".join(segments)


@dataclass
class Card:
    """One message as the list or its page shows it."""

    id: int
    facts: dict[str, str] = field(default_factory=dict)
    raw: str = ""
    forms: list[str] = field(default_factory=list)
    text: str = ""


class ScreenPage(HTMLParser):
    """What the tests read of a refused-messages page: the cards (or the one message), the
    banner, the error summary, links and the waiting count."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.cards: list[Card] = []
        self.links: list[tuple[str, str]] = []
        self.pre: list[str] = []
        self.forms: list[str] = []
        self.facts: dict[str, str] = {}
        self._stack: list[tuple[str, str]] = []  # (tag, class)
        self._card_depth: int | None = None
        self._dt = ""
        self._capture: list[str] | None = None
        self._field: str | None = None
        self._href: str | None = None
        self._link_text: list[str] = []
        self._text: list[str] = []
        self.feed(html)
        self.html = html

    # -- the parser ---------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("br", "input", "meta", "link", "img", "hr"):
            return
        self._stack.append((tag, a.get("class", "")))
        if tag == "li" and a.get("id", "").startswith("message-"):
            self.cards.append(Card(int(a["id"].removeprefix("message-"))))
            self._card_depth = len(self._stack)
        if tag in ("dt", "dd", "pre"):
            self._capture, self._field = [], tag
        if tag == "form":
            action = a.get("action", "")
            self.forms.append(action)
            if self._card is not None:
                self._card.forms.append(action)
        if tag == "a":
            self._href, self._link_text = a.get("href"), []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("dt", "dd", "pre") and self._capture is not None and self._field == tag:
            text = "".join(self._capture)
            facts = self._card.facts if self._card is not None else self.facts
            if tag == "dt":
                self._dt = _fold(text)
            elif tag == "dd":
                facts[self._dt] = _fold(text)
            else:
                self.pre.append(text)
                if self._card is not None:
                    self._card.raw = text
            self._capture = self._field = None
        if tag == "a" and self._href is not None:
            self.links.append((_fold("".join(self._link_text)), self._href))
            self._href = None
        while self._stack:
            open_tag, _ = self._stack.pop()
            if self._card_depth is not None and len(self._stack) < self._card_depth:
                self._card_depth = None
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        if self._capture is not None:
            self._capture.append(data)
        if self._href is not None:
            self._link_text.append(data)
        if self._card is not None:
            self._card.text += data

    @property
    def _card(self) -> Card | None:
        return self.cards[-1] if self._card_depth is not None and self.cards else None

    # -- what the tests read ------------------------------------------------------------------
    @property
    def text(self) -> str:
        return _fold("".join(self._text))

    @property
    def ids(self) -> list[int]:
        return [c.id for c in self.cards]

    def card(self, message_id: int) -> Card:
        return next(c for c in self.cards if c.id == message_id)

    def link(self, starts: str) -> str:
        return next(href for text, href in self.links if text.startswith(starts))

    def banner(self) -> str:
        found = re.search(
            r'class="nhsuk-notification-banner[^"]*"[^>]*>(.*?)</div>\s*</div>', self.html, re.S
        )
        return _fold(unescape(re.sub(r"<[^>]+>", " ", found.group(1)))) if found else ""

    def banner_is_success(self) -> bool:
        return "nhsuk-notification-banner--success" in self.html

    def errors(self) -> list[tuple[str, str]]:
        """(text, href) of each item in the NHS error summary."""
        found = re.search(r'<div class="nhsuk-error-summary".*?</ul>', self.html, re.S)
        if not found:
            return []
        items = re.findall(r'<a href="([^"]*)"[^>]*>(.*?)</a>', found.group(0), re.S)
        return [(_fold(unescape(text)), unescape(href)) for href, text in items]


def _fold(text: str) -> str:
    return " ".join(text.split())


def signed_in(client: TestClient, token: str) -> TestClient:
    """A browser of its own, signed in through the sign-in page (a session cookie)."""
    browser = TestClient(client.app, raise_server_exceptions=False)
    browser.headers["Origin"] = "http://testserver"  # as a browser's own form posts say
    r = browser.post("/sign-in/token", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return browser
