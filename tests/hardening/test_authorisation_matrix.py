"""The authorisation matrix, generated from /openapi.json: every operation, every refusal.

Every operation of the OpenAPI document is one test. Its request is built from the schema (the
first example schemathesis generates for a fixed seed: the required query parameters and a body
that validates) with the ids of real objects of organisation A in the path. Then:

- without a token: 401;
- as a user of A holding one role that `x-access` does not grant, for each such role: 403;
- as a user of organisation B holding every role: 404 for A's objects, a refusal for a write
  that names A's organisation, and otherwise an answer with nothing of A's in it (no marker:
  A's organisation, site, usernames, service code or NHS numbers);
- where only the owning organisation may act (`"organisation": "owner"`): a refusal for an
  organisation A shared the case with;
- and none of those refused requests writes anything: a digest of every table is taken before
  and after them;
- as a user of A holding one role the read grants, for each such role: 200 (404 where the grant
  is `shared_only`, since A owns the case), with none of A's NHS numbers where the grant is
  `no_identifiers` or `shared_only`.

An operation without `x-access` fails unless it is on PUBLIC, so a route added later is covered
the day it exists. Operations whose roles a pathway transition decides (`"roles": "pathway"`)
need a request that names a workflow or event: RECIPES builds those, and the roles come from
the pathway definitions the API serves.

Each backend gets its own fresh database (the digest reads every table, so it stays small).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from random import Random
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, find, settings
from schemathesis import GenerationMode
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import INTERNAL_ROLES, KNOWN_ROLES
from app.auth.service import create_token
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.main import create_app
from app.models import (
    AdtMessage,
    Base,
    Notification,
    NotificationDelivery,
    NotificationSubscription,
    User,
)
from app.timeutil import utcnow
from tests.chc.helpers import ChcApi
from tests.conftest import migrated_database_url
from tests.discharge.helpers import NHS, fire, open_case
from tests.hardening.conftest import dispose, register_hl7_bodies
from tests.helpers import Api
from tests.ic.helpers import Ic, make_service

register_hl7_bodies()

# Operations anyone may call without a token. Nothing else may lack `x-access`.
PUBLIC = frozenset(
    {
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/api/v1/healthz"),
        ("get", "/api/v1/readyz"),
    }
)
# Refused even for the right role in the right organisation: the last administrator of an
# organisation deactivating themselves (issue 13, item 7). Tried as the only administrator of
# an organisation of their own (E), so a hole here leaves A's users alone.
SELF_REFUSED = frozenset({("post", "/api/v1/admin/users/{username}/deactivate")})
# Path parameters that name an object of organisation A (B must get 404 for them); the others
# (a pathway key, a panel date) name nothing an organisation owns.
OWNED = frozenset(
    {
        "message_id",
        "case_id",
        "service_id",
        "import_id",
        "item_id",
        "username",
        "organisation",
        # FHIR resources (/fhir/R4/...): a discharge case's Encounter and Flag, a CHC case's
        # EpisodeOfCare, an IC episode's Task.
        "encounter_id",
        "episode_id",
        "task_id",
        "flag_id",
        # Notifications: an inbox item of A's user, A's user's subscription, A's dead letter.
        "notification_id",
        "subscription_id",
        "delivery_id",
        # A referral task sent from A's discharge case (to a partner of the directory).
        "referral_id",
        # A what-if run of A's manager.
        "run_id",
    }
)
ROLES = sorted(KNOWN_ROLES)
EVERY_ROLE = sorted(KNOWN_ROLES - INTERNAL_ROLES)
SEED = 20261203
BASE = "http://testserver"


def _operations() -> list[tuple[str, str]]:
    app = create_app(_settings("sqlite://"))
    try:
        paths = app.openapi()["paths"]
    finally:
        dispose(app)
    return [(method, path) for path, ops in paths.items() for method in ops]


def _settings(url: str) -> Settings:
    # No what-if job: a run it carried out during another operation's requests would change
    # the table digest those requests are held to.
    return Settings(
        database_url=url,
        clock_sweep_interval_seconds=0,
        live_figures_max_age_seconds=0,
        whatif_poll_seconds=0,
    )


OPERATIONS = _operations()


@dataclass(frozen=True)
class Caller:
    username: str
    org: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Req:
    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)  # json= / content= / files= / data=
    path_parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    client: TestClient
    db: Engine
    openapi: dict[str, Any]
    operations: dict[tuple[str, str], Any]
    users: dict[str, Caller]  # organisation A, one role each
    builder: Caller  # organisation A, every role: made A's data
    other: Caller  # organisation B, every role, nothing shared with it
    partner: Caller  # organisation S, every role, A's discharge case shared with it
    lone_admin: Caller  # organisation E's only user, an administrator
    ids: dict[str, Any]
    chc_case: int
    sample_case: int
    site: str
    markers: tuple[str, ...]
    nhs: tuple[str, ...]


@pytest.fixture(scope="module")
def world(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[World]:
    url = migrated_database_url(backend, tmp_path_factory.mktemp("matrix"), request)
    app = create_app(_settings(url))
    db = make_engine(url)
    sessions = make_sessionmaker(db)
    tag = uuid.uuid4().hex[:6].upper()
    org_a, org_b, org_s, org_t, org_e = (f"MX{x}-{tag}" for x in "ABSTE")

    def caller(org: str, roles: list[str]) -> Caller:
        return _caller(sessions, org, roles)

    users = {role: caller(org_a, [role]) for role in ROLES}
    builder = caller(org_a, EVERY_ROLE)
    target = caller(org_a, ["ward_clinician"])
    with TestClient(app, raise_server_exceptions=False) as client:
        site = f"MXSITE-{tag}"
        api = Api(client, builder.headers)
        sample = int(api.create(site=site, patient_ref=NHS[0]).json()["id"])
        discharge = int(open_case(api, NHS[1], site=site)["id"])
        fire(api, discharge, "not_meeting_ctr", days_ago=2)
        fire(api, discharge, "raise_escalation", data={"escalation_reason": "no P1 slot"})
        for org in (org_s, org_t):
            r = client.post(
                f"/api/v1/cases/{discharge}/shares",
                json={"organisation": org, "reason": "works the case"},
                headers=builder.headers,
            )
            assert r.status_code == 201, r.text
        r = client.post(
            f"/api/v1/cases/{discharge}/referrals",
            json={"organisation": "LIV-CTH", "kind": "hub"},
            headers=builder.headers,
        )
        assert r.status_code == 201, r.text
        referral = int(r.json()["id"])
        chc = ChcApi(client, builder.headers)
        imported = chc.import_list("MLCSU", "mlcsu.csv")
        chc.import_list("LSCFT", "lscft.csv")
        queue = chc.queue()["items"]
        items = _get(client, builder, "/api/v1/reconciliation/chc")["items"]
        service = make_service(client, builder.headers, site=site, model="reablement", capacity=2)
        ic = Ic(client, builder.headers, site)
        waiting = int(ic.refer(NHS[2])["id"])
        ic.fire(waiting, "triage", priority="high", planned_model="reablement")
        ic.fire(waiting, "await_capacity")
        placed = int(ic.refer(NHS[3])["id"])
        ic.fire(placed, "triage", priority="high", planned_model="reablement")
        ic.fire(placed, "start_reablement", service_id=service["id"])
        panels = _get(client, builder, "/api/v1/panels")["panels"]
        r = client.post("/api/v1/whatif", json={"runs": 2, "weeks": 1}, headers=builder.headers)
        assert r.status_code == 202, r.text
        whatif_run = int(r.json()["id"])
        dead_letter = _dead_letter(sessions, org_a)
        notification, subscription, dead_delivery = _notifications(sessions, builder, org_a)
        nhs = (
            NHS[0],
            NHS[1],
            NHS[2],
            NHS[3],
            *(i["patient_ref"] for i in queue if i["patient_ref"]),
        )
        yield World(
            client=client,
            db=db,
            openapi=client.get("/openapi.json").json(),
            operations={
                (op.method.lower(), op.path): op
                for op in (
                    r.ok()
                    for r in schemathesis.openapi.from_asgi(
                        "/openapi.json", app
                    ).get_all_operations()
                )
            },
            users=users,
            builder=builder,
            other=caller(org_b, EVERY_ROLE),
            partner=caller(org_s, EVERY_ROLE),
            lone_admin=caller(org_e, ["admin"]),
            ids={
                "case_id": discharge,
                "service_id": service["id"],
                "import_id": imported["import_id"],
                "item_id": items[0]["id"],
                "username": target.username,
                "organisation": org_t,
                "key": "discharge",
                "name": "delay-reasons-acute",  # a code list (GET /codelists/{name})
                "day": panels[0]["date"],
                "message_id": dead_letter,
                "encounter_id": str(discharge),
                "episode_id": str(queue[0]["case_id"]),
                "task_id": f"{waiting}-start",
                "flag_id": f"{discharge}-escalation",
                "notification_id": notification,
                "subscription_id": subscription,
                "delivery_id": dead_delivery,
                "referral_id": referral,
                "run_id": whatif_run,
            },
            chc_case=int(queue[0]["case_id"]),
            sample_case=sample,
            site=site,
            markers=(
                org_a,
                site,
                service["code"],
                builder.username,
                target.username,
                *(u.username for u in users.values()),
                *nhs,
            ),
            nhs=tuple(nhs),
        )
    dispose(app)
    db.dispose()


def _dead_letter(sessions: sessionmaker[Session], org: str) -> int:
    """A refused ADT message of `org` (straight in the table: no interface of the shipped
    configuration sends for a test organisation)."""
    now = utcnow()
    with sessions() as session:
        row = AdtMessage(
            sender="PAS|MATRIX",
            control_id=uuid.uuid4().hex[:20],
            interface=None,
            organisation=org,
            message_type="ADT^A02",
            received_at=now,
            processed_at=now,
            outcome="rejected",
            ack_code="AE",
            error_code="no_open_spell",
            error_text="no open spell",
            raw="MSH|^~\\&|PAS|MATRIX|HOMEFIRST|X|20261201100000||ADT^A02|M1|P|2.4",
            attempts=1,
        )
        session.add(row)
        session.commit()
        return row.id


def _notifications(sessions: sessionmaker[Session], user: Caller, org: str) -> tuple[int, int, int]:
    """An in-app notification and a subscription of A's user, and a dead letter of A (an
    organisation webhook that ran out of attempts), straight in the tables."""
    now = utcnow()
    with sessions() as session:
        user_id = session.scalars(select(User.id).where(User.username == user.username)).one()
        note = Notification(
            kind="case_escalated",
            case_id=None,
            link="/api/v1/cases",
            summary="matrix",
            targets={},
            created_at=now,
            fanned_out_at=now,
        )
        mine = NotificationSubscription(
            subject=f"user:{user_id}",
            kind="case_escalated",
            channel="in_app",
            organisation=org,
            user_id=user_id,
            created_at=now,
            created_by=user.username,
        )
        hook = NotificationSubscription(
            subject=f"org:{org}",
            kind="case_escalated",
            channel="webhook",
            organisation=org,
            address="https://matrix.example.test/hook",
            secret="matrix-secret",
            created_at=now,
            created_by=user.username,
        )
        session.add_all([note, mine, hook])
        session.flush()
        common = {"notification_id": note.id, "organisation": org, "created_at": now}
        dead = NotificationDelivery(
            **common,
            subscription_id=hook.id,
            recipient=hook.subject,
            channel="webhook",
            status="dead",
            attempts=8,
            last_error="webhook: HTTP 500",
        )
        inbox = NotificationDelivery(
            **common,
            subscription_id=mine.id,
            recipient=mine.subject,
            channel="in_app",
            user_id=user_id,
            status="sent",
            attempts=0,
            sent_at=now,
        )
        session.add_all([dead, inbox])
        session.commit()
        return note.id, mine.id, dead.id


def _caller(sessions: sessionmaker[Session], org: str, roles: list[str]) -> Caller:
    """A user straight in the table (whatever `add_user` refuses, `system` included)."""
    name = f"mx{uuid.uuid4().hex[:10]}"
    with sessions() as session:
        session.add(
            User(
                username=name,
                display_name=name,
                organisation=org,
                roles=" ".join(sorted(roles)),
                active=True,
                created_at=utcnow(),
            )
        )
        session.commit()
        token = create_token(session, username=name).token
    return Caller(name, org, token)


def _get(client: TestClient, user: Caller, path: str) -> Any:
    r = client.get(path, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()


# -- building requests ----------------------------------------------------------------------


def _path_ids(world: World, path: str, names: list[str]) -> dict[str, Any]:
    ids = dict(world.ids)
    if path.startswith(("/api/v1/chc/", "/api/v1/queues/chc/")):
        ids["case_id"] = world.chc_case
    missing = [n for n in names if n not in ids]
    assert not missing, f"{path}: no object of organisation A for path parameters {missing}"
    return {n: ids[n] for n in names}


def _generated(world: World, method: str, path: str) -> Req:
    """The first request schemathesis generates for the operation (fixed seed, no shrinking:
    hypothesis draws the simplest values first), with A's ids in the path."""
    operation = world.operations[(method, path)]
    fixed = _path_ids(world, path, [p.name for p in operation.path_parameters])
    strategy = operation.as_strategy(
        generation_mode=GenerationMode.POSITIVE, path_parameters=fixed or None
    )
    case = find(
        strategy,
        lambda _case: True,
        settings=settings(
            database=None,
            max_examples=1,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        ),
        random=Random(SEED),
    )
    kwargs = case.as_transport_kwargs(base_url=BASE)
    headers = {
        k: v
        for k, v in (kwargs.get("headers") or {}).items()
        if k.lower() in {"content-type", "if-match", "idempotency-key"}
    }
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    if kwargs.get("files"):
        body["files"] = kwargs["files"]
    elif isinstance(kwargs.get("data"), bytes | str):
        body["content"] = kwargs["data"]
    elif kwargs.get("data"):
        body["data"] = kwargs["data"]
    return Req(method, kwargs["url"], dict(kwargs.get("params") or {}), headers, body, fixed)


def _pathway(world: World, key: str) -> dict[str, Any]:
    return dict(_get(world.client, world.builder, f"/api/v1/pathways/{key}")["definition"])


def _open_roles(world: World, key: str) -> set[str]:
    return set(_pathway(world, key)["open_roles"])


def _event_roles(world: World, key: str, event: str, state: str) -> set[str]:
    roles: set[str] = set()
    for t in _pathway(world, key)["transitions"]:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        if t["trigger"] == event and (state in sources or "*" in sources):
            roles |= set(t.get("roles") or ())
    return roles


def _open_case(world: World) -> tuple[Req, set[str]]:
    body = {"workflow": "sample-referral", "site": world.site, "data": {"priority": "routine"}}
    return Req("post", f"{BASE}/api/v1/cases", body={"json": body}), _open_roles(
        world, "sample-referral"
    )


def _fire_event(world: World) -> tuple[Req, set[str]]:
    case = world.client.get(f"/api/v1/cases/{world.sample_case}", headers=world.builder.headers)
    assert case.status_code == 200, case.text
    req = Req(
        "post",
        f"{BASE}/api/v1/cases/{world.sample_case}/events",
        headers={"If-Match": case.headers["ETag"]},
        body={"json": {"event": "triage", "data": {"priority": "urgent"}}},
        path_parameters={"case_id": world.sample_case},
    )
    return req, _event_roles(world, "sample-referral", "triage", case.json()["state"])


def _open_link(world: World) -> tuple[Req, set[str]]:
    body = {"workflow": "sample-referral", "link_type": "related", "data": {"priority": "routine"}}
    req = Req(
        "post",
        f"{BASE}/api/v1/cases/{world.sample_case}/links",
        body={"json": body},
        path_parameters={"case_id": world.sample_case},
    )
    return req, _open_roles(world, "sample-referral")


# Operations whose roles a pathway decides: a request naming the workflow or event to try, and
# the roles the pathway gives it.
RECIPES: dict[tuple[str, str], Callable[[World], tuple[Req, set[str]]]] = {
    ("post", "/api/v1/cases"): _open_case,
    ("post", "/api/v1/cases/{case_id}/events"): _fire_event,
    ("post", "/api/v1/cases/{case_id}/links"): _open_link,
}


def _send(world: World, req: Req, user: Caller | None) -> httpx.Response:
    headers = {**req.headers, **(user.headers if user else {})}
    return world.client.request(
        req.method.upper(), req.url, params=req.params, headers=headers, **req.body
    )


def _naming(world: World, path: str, req: Req, org: str) -> tuple[Req, bool]:
    """`req` with the `organisation` of its JSON body set to `org` (a write on behalf of that
    organisation), and whether it has one. Query filters are left as generated: B's own access
    records echo its queries, so a query naming A would show up in B's audit."""
    operation = world.openapi["paths"][path][req.method]
    body = dict(req.body)
    names_it = False
    if "organisation" in _json_properties(world.openapi, operation) and isinstance(
        body.get("json"), dict
    ):
        body["json"] = {**body["json"], "organisation": org}
        names_it = True
    return replace(req, body=body), names_it


def _json_properties(openapi: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    schema = (
        operation.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
    )
    for choice in [schema, *schema.get("anyOf", [])]:
        ref = choice.get("$ref", "")
        if ref:
            choice = openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]
        if "properties" in choice:
            return set(choice["properties"])
    return set()


# -- what was written -----------------------------------------------------------------------


# One table's rows hashed by PostgreSQL (table names come from the models' metadata).
HASH_TABLE = (
    "SELECT '{name}', md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM {name} r"
)


def _digest(db: Engine) -> dict[str, str]:
    """A hash of every row of every table, per table. PostgreSQL hashes on the server, in one
    statement; SQLite's rows are read in-process."""
    tables = Base.metadata.sorted_tables
    with db.connect() as conn:
        if db.dialect.name == "postgresql":
            statement = " UNION ALL ".join(HASH_TABLE.format(name=t.name) for t in tables)
            return dict(conn.execute(text(statement)).tuples().all())
        return {
            t.name: hashlib.sha256(
                repr(conn.execute(select(t).order_by(*t.primary_key.columns)).all()).encode()
            ).hexdigest()
            for t in tables
        }


# -- the matrix -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"), OPERATIONS, ids=[f"{m.upper()} {p}" for m, p in OPERATIONS]
)
def test_operation(world: World, method: str, path: str) -> None:
    operation = world.openapi["paths"][path][method]
    access = operation.get("x-access")
    label = f"{method.upper()} {path}"
    if (method, path) in PUBLIC:
        assert access is None, f"{label} is public: it should not declare x-access"
        r = world.client.request(method.upper(), path)
        assert r.status_code in (200, 503), r.text
        return
    assert access is not None, (
        f"{label} declares no access requirement: use needs(...) or needs_role(...) from "
        "app.auth.needs on the route (or PATHWAY_ROLES / ANY_USER), or add it to PUBLIC"
    )
    failures: list[str] = []

    def expect(r: httpx.Response, allowed: tuple[int, ...], who: str) -> None:
        if r.status_code not in allowed:
            failures.append(f"{who}: {r.status_code}, wanted {allowed}: {r.text[:300]}")

    roles = access["roles"]
    if roles == "pathway":
        recipe = RECIPES.get((method, path))
        assert recipe is not None, f"{label}: roles decided by a pathway; add a RECIPE for it"
        req, granted = recipe(world)
    else:
        req = _generated(world, method, path)
        granted = set(ROLES) if roles == "any" else set(roles)
    owned = bool(OWNED & set(req.path_parameters))

    before = _digest(world.db)
    expect(_send(world, req, None), (401,), "no token")
    for role in ROLES:
        if role not in granted:
            expect(_send(world, req, world.users[role]), (403,), f"role {role} of A")
    as_b, names_a = _naming(world, path, req, world.builder.org)
    refused_b = roles != "any" and (owned or (method != "get" and names_a))
    if refused_b:
        wanted = (404,) if owned else (403, 404)
        expect(_send(world, as_b, world.other), wanted, "organisation B (every role)")
    if access.get("organisation") == "owner":
        r = _send(world, req, world.partner)
        expect(r, (403, 404), "an organisation the case is shared with (every role)")
    if (method, path) in SELF_REFUSED:
        admin = world.lone_admin
        mine = replace(
            req, url=req.url.replace(str(req.path_parameters["username"]), admin.username)
        )
        r = _send(world, mine, admin)
        if r.status_code < 400:
            failures.append(f"the last admin on themselves: {r.status_code}: {r.text[:300]}")
    after = _digest(world.db)
    written = sorted(t for t in before if before[t] != after[t])
    if written:
        failures.append(f"refused requests wrote to: {', '.join(written)}")

    if roles != "any" and not refused_b:
        r = _send(world, as_b, world.other)
        leaked = [m for m in world.markers if m in r.text]
        if leaked:
            failures.append(f"organisation B ({r.status_code}) sees A's {leaked[:5]}")
    if method == "get" and isinstance(roles, dict):
        for role, level in roles.items():
            r = _send(world, req, world.users[role])
            shared_only = level == "shared_only"
            expect(r, (404,) if shared_only and owned else (200,), f"role {role} ({level})")
            if level != "full":
                shown = [n for n in world.nhs if n in r.text]
                if shown:
                    failures.append(f"role {role} ({level}) sees NHS numbers {shown[:3]}")
    assert not failures, f"{label}:\n  " + "\n  ".join(failures)
