"""Helpers for the CHC screens' tests: a signed-in browser session (TestClient) and the
error summary and banner a page shows."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from tests.chc.helpers import ChcApi, checklist, dst
from tests.helpers import ago


def signed_in(client: TestClient, user: Any) -> TestClient:
    """A browser of its own, signed in through the sign-in page's token form."""
    b = TestClient(client.app)
    b.headers["Origin"] = "http://testserver"  # as a browser's own form posts say
    r = b.post("/sign-in/token", data={"token": user.token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return b


def error_summary(r: Response) -> list[str]:
    """The texts listed in the page's NHS error summary ([] when it has none)."""
    found = re.search(r'<div class="nhsuk-error-summary".*?</ul>', r.text, re.S)
    if not found:
        return []
    items = re.findall(r"<li>\s*(?:<a[^>]*>)?(.*?)(?:</a>)?\s*</li>", found.group(0), re.S)
    return [unescape(re.sub(r"\s+", " ", i).strip()) for i in items]


def banner(r: Response) -> str:
    """The success banner's text, whitespace folded ('' when there is none)."""
    found = re.search(r"nhsuk-notification-banner--success[^>]*>(.*?</div>\s*</div>)", r.text, re.S)
    text = re.sub(r"<[^>]+>", " ", found.group(1)) if found else ""
    return unescape(re.sub(r"\s+", " ", text).strip())


def open_case(api: ChcApi, days: float, **data: object) -> int:
    """A CHC case referred `days` ago."""
    return api.open_chc(dict(data), occurred_at=ago(days=days), reason="referral received earlier")


def to_screening(api: ChcApi, case_id: int) -> None:
    api.steps(case_id, ("allocate", {"allocated_to": "CSU team"}), ("start_screening", {}))


def refer_to_panel(api: ChcApi, case_id: int) -> str:
    """Through screening (an A for Breathing) and a DST with a Priority need to the next
    panel; the panel's date."""
    to_screening(api, case_id)
    body = api.steps(
        case_id,
        ("record_checklist", checklist(breathing="A")),
        ("start_full_assessment", {}),
        ("record_dst", dst(breathing="priority")),
        ("refer_to_panel", {}),
    )
    return str(body["case"]["attributes"]["panel_date"])
