"""Need to know: each role reads what `pathways/config/access.yaml` grants it, at its level.

The generated matrix (tests/hardening/test_authorisation_matrix.py) checks every operation's
refusals; these tests check what the granted levels show: an analyst's lists without NHS
numbers, a provider's cases limited to those referred to it, an information-governance
officer's audit without clinical lists, and that a bad policy stops the service.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from typer.testing import CliRunner

from app.auth.access import READS, AccessConfigError, load_access, withhold_identifiers
from app.auth.actor import INTERNAL_ROLES, KNOWN_ROLES
from app.auth.needs import install_access, needs, needs_role
from app.cli import cli
from app.config import PROJECT_ROOT, Settings
from app.main import create_app
from tests.discharge.helpers import NHS, TEAM, fire, open_case
from tests.helpers import Api

CONFIG = PROJECT_ROOT / "pathways" / "config"


@pytest.fixture
def ward(client: TestClient, make_user) -> tuple[Any, int]:  # noqa: ANN001
    """A discharge team with one patient on the Ready-for-Discharge list."""
    team = make_user(*TEAM)
    api = Api(client, team.headers)
    case = open_case(api, NHS[5], site="FAZAKERLEY")
    fire(api, case["id"], "not_meeting_ctr", days_ago=3)
    return team, int(case["id"])


def _rows(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/rfd", params={"site": "FAZAKERLEY", **params}, headers=headers)
    assert r.status_code == 200, r.text
    if params.get("format") == "csv":
        return list(csv.DictReader(io.StringIO(r.text)))
    return list(r.json()["items"])


def test_an_analyst_gets_the_rfd_list_without_nhs_numbers_and_no_case(
    client: TestClient, make_user, ward
) -> None:  # noqa: ANN001
    team, cid = ward
    analyst = make_user("analyst", org=team.org)
    full, reduced = _rows(client, team.headers), _rows(client, analyst.headers)
    assert [r["nhs_number"] for r in full] == [NHS[5]]
    assert [r["nhs_number"] for r in reduced] == [None]
    # Everything but the identifier is the same row.
    assert [{**r, "nhs_number": None} for r in full] == reduced
    team_csv = _rows(client, team.headers, format="csv")
    analyst_csv = _rows(client, analyst.headers, format="csv")
    assert [r["nhs_number"] for r in team_csv] == [NHS[5]]
    assert [r["nhs_number"] for r in analyst_csv] == [""]
    assert [r["days_since_drd"] for r in analyst_csv] == [r["days_since_drd"] for r in team_csv]
    for path in (
        "/api/v1/cases",
        f"/api/v1/cases/{cid}",
        f"/api/v1/cases/{cid}/events",
        f"/api/v1/cases/{cid}/discharge",
        "/api/v1/ic/waiting-list",
    ):
        r = client.get(path, headers=analyst.headers)
        assert (r.status_code, r.json()["code"]) == (403, "forbidden"), path
        assert "analyst" not in r.json()["required_roles"]
    for path in ("/api/v1/dashboard/metrics", "/api/v1/dashboard/feed", "/api/v1/reports/chc"):
        assert client.get(path, headers=analyst.headers).status_code == 200, path


def test_the_analysts_read_is_audited_with_the_cases_it_covered(
    client: TestClient, make_user, ward
) -> None:  # noqa: ANN001
    team, cid = ward
    analyst = make_user("analyst", org=team.org)
    officer = make_user("ig_officer", org=team.org)
    _rows(client, analyst.headers)
    r = client.get(
        "/api/v1/audit", params={"user": analyst.actor.username}, headers=officer.headers
    )
    assert r.status_code == 200, r.text
    assert [(x["endpoint"], x["case_ids"]) for x in r.json()["items"]] == [("/api/v1/rfd", [cid])]


def test_a_provider_sees_only_the_cases_referred_to_it(client: TestClient, make_user, ward) -> None:  # noqa: ANN001
    team, referred = ward
    api = Api(client, team.headers)
    kept = int(open_case(api, NHS[6], site="FAZAKERLEY")["id"])
    home = make_user("provider")
    shared = client.post(
        f"/api/v1/cases/{referred}/shares",
        json={"organisation": home.org, "reason": "placement with the provider"},
        headers=team.headers,
    )
    assert shared.status_code == 201, shared.text
    listed = client.get("/api/v1/cases", headers=home.headers).json()["items"]
    assert [c["id"] for c in listed] == [referred]
    assert client.get(f"/api/v1/cases/{referred}", headers=home.headers).status_code == 200
    assert client.get(f"/api/v1/cases/{kept}", headers=home.headers).status_code == 404
    for path in (f"/api/v1/cases/{referred}/events", "/api/v1/rfd", "/api/v1/dashboard/feed"):
        assert client.get(path, headers=home.headers).status_code == 403, path
    # A provider inside the owning organisation was referred nothing: it sees none of its
    # organisation's own cases.
    inside = make_user("provider", org=team.org)
    assert client.get("/api/v1/cases", headers=inside.headers).json()["items"] == []
    r = client.get(f"/api/v1/cases/{referred}", headers=inside.headers)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    assert client.get(f"/api/v1/cases/{referred}/shares", headers=inside.headers).status_code == 404


def test_an_ig_officer_reads_the_audit_and_the_shares_never_a_clinical_list(
    client: TestClient, make_user, ward
) -> None:  # noqa: ANN001
    team, cid = ward
    officer = make_user("ig_officer", org=team.org)
    assert client.get("/api/v1/audit", headers=officer.headers).status_code == 200
    assert client.get(f"/api/v1/cases/{cid}/shares", headers=officer.headers).status_code == 200
    for path in (
        "/api/v1/cases",
        f"/api/v1/cases/{cid}",
        f"/api/v1/cases/{cid}/events",
        "/api/v1/rfd",
        "/api/v1/dashboard/feed",
        "/api/v1/ic/waiting-list",
        "/api/v1/queues/chc",
    ):
        assert client.get(path, headers=officer.headers).status_code == 403, path


def test_a_ward_clinician_reads_the_ward_list_and_histories_not_the_feed(
    client: TestClient, make_user, ward
) -> None:  # noqa: ANN001
    team, cid = ward
    clinician = make_user("ward_clinician", org=team.org)
    assert [r["nhs_number"] for r in _rows(client, clinician.headers)] == [NHS[5]]
    assert client.get(f"/api/v1/cases/{cid}/events", headers=clinician.headers).status_code == 200
    for path in ("/api/v1/dashboard/feed", "/api/v1/ic/waiting-list", "/api/v1/audit"):
        assert client.get(path, headers=clinician.headers).status_code == 403, path


def test_the_dashboard_page_follows_the_grants(settings: Settings, make_user, ward) -> None:  # noqa: ANN001
    team, _ = ward
    app = create_app(settings)
    with TestClient(app) as browser:
        browser.headers["Origin"] = "http://testserver"  # as a browser's own form posts say
        for roles, status, table in (
            (("manager",), 200, True),
            (("chc_assessor",), 200, False),  # figures, but not the RFD list
            (("ig_officer",), 403, False),
        ):
            user = make_user(*roles, org=team.org)
            browser.cookies.clear()
            login = browser.post(
                "/sign-in/token", data={"token": user.token}, follow_redirects=False
            )
            assert login.status_code == 303, login.text
            page = browser.get("/dashboard", follow_redirects=False)
            assert page.status_code == status, (roles, page.text[:200])
            assert ('id="rfd-table"' in page.text) is table, roles
    app.state.sessions.kw["bind"].dispose()


# -- the policy file ------------------------------------------------------------------------


def _policy_dir(tmp_path: Path, change: Any) -> Path:
    pathways = tmp_path / "pathways"
    shutil.copytree(PROJECT_ROOT / "pathways", pathways)
    path = pathways / "config" / "access.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc["reads"])
    path.write_text(yaml.safe_dump(doc))
    return pathways


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r["rfd.read"]["full"].append("wizard"), "rfd.read.full: unknown roles: wizard"),
        (lambda r: r.update({"cases.everything": {"full": ["admin"]}}), "unknown reads"),
        (lambda r: r.pop("users.read"), "reads not decided"),
        (
            lambda r: r["audit.read"].update({"no_identifiers": ["analyst"]}),
            "audit.read: level no_identifiers is not offered",
        ),
        (
            lambda r: r["rfd.read"]["no_identifiers"].append("manager"),
            "rfd.read: roles given two levels: manager",
        ),
        (lambda r: r["cases.list"].update({"level_nine": ["admin"]}), "cases.list.level_nine"),
    ],
    ids=[
        "unknown role",
        "unknown read",
        "read left out",
        "level not offered",
        "two levels",
        "bad level",
    ],
)
def test_a_bad_policy_stops_the_service(tmp_path: Path, change: Any, problem: str) -> None:
    pathways = _policy_dir(tmp_path, change)
    with pytest.raises(AccessConfigError, match="access.yaml") as raised:
        load_access(pathways / "config")
    assert problem in str(raised.value)
    with pytest.raises(AccessConfigError):
        create_app(Settings(database_url="sqlite://", pathways_dir=pathways))
    checked = CliRunner().invoke(cli, ["pathways", "check", "--dir", str(pathways)])
    assert checked.exit_code == 1
    assert problem in checked.output


def test_a_user_with_several_roles_gets_the_widest_level() -> None:
    policy = load_access(CONFIG)
    assert policy.grant("rfd.read", {"analyst"}).level == "no_identifiers"  # type: ignore[union-attr]
    # The widest level wins for a user with several roles.
    assert policy.grant("rfd.read", {"analyst", "manager"}).level == "full"  # type: ignore[union-attr]
    assert policy.grant("rfd.read", {"system"}) is None


def test_routes_and_reads_must_agree() -> None:
    policy = load_access(CONFIG)
    with pytest.raises(ValueError, match="reads no route declares"):
        install_access(FastAPI(), policy)  # a read nobody serves is a leftover
    twice = FastAPI()

    @twice.get("/x", dependencies=[needs("rfd.read"), needs_role(("admin",), "x")])
    def x() -> None: ...

    with pytest.raises(ValueError, match="declare one access requirement"):
        install_access(twice, policy)
    with pytest.raises(ValueError, match="unknown read"):
        needs("rfd.everything")


class _Inner(BaseModel):
    patient_ref: str | None
    ward: str


class _Outer(BaseModel):
    nhs_number: str | None
    rows: list[_Inner]
    data: dict[str, Any]


def test_identifiers_are_withheld_at_any_depth() -> None:
    value = _Outer(
        nhs_number="9990000018",
        rows=[_Inner(patient_ref="9990000026", ward="7")],
        data={"patient_ref": "9990000034", "priority": "urgent"},
    )
    reduced = withhold_identifiers(value)
    assert reduced.model_dump() == {
        "nhs_number": None,
        "rows": [{"patient_ref": None, "ward": "7"}],
        "data": {"patient_ref": None, "priority": "urgent"},
    }
    assert value.nhs_number == "9990000018"  # a copy: the original is untouched


# -- the README's table is the policy --------------------------------------------------------

MARKS = {"full": "✓", "no_identifiers": "no NHS no.", "shared_only": "referred only"}
README = PROJECT_ROOT / "README.md"
BEGIN, END = "<!-- access-matrix:begin -->", "<!-- access-matrix:end -->"


def render_matrix() -> str:
    """The README's role × read table, from `pathways/config/access.yaml`."""
    policy = load_access(CONFIG)
    granted = {name: policy.roles(name) for name in READS}
    lines = [
        "| role | " + " | ".join(f"`{name}`" for name in READS) + " |",
        "|---|" + "---|" * len(READS),
    ]
    for role in sorted(KNOWN_ROLES - INTERNAL_ROLES):
        cells = [MARKS[granted[n][role]] if role in granted[n] else "" for n in READS]
        lines.append(f"| `{role}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_the_readme_table_is_the_policy() -> None:
    text = README.read_text()
    table = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()
    assert table == render_matrix(), "regenerate the README table from access.yaml"
