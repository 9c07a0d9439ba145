"""The correctness part on SQLite: the same templates, transitions and claims, then replay.

Small on purpose (SQLite is the embedded development database, one writer at a time): the
point is that the same legal histories load, the same workloads succeed under concurrent
clients, no case is claimed twice, and every case's history still folds into its row.
"""

from __future__ import annotations

import tempfile
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from app.auth.actor import Actor
from app.auth.service import add_user
from app.cases import service
from app.cases.schemas import EventCreate
from app.chc import queue
from app.chc.config import chc_config
from app.codelists.loader import CodeSetRegistry
from app.composition import build_writer
from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_sessionmaker
from app.engine.engine import Engine
from app.engine.replay import replay
from app.errors import DomainError
from app.migrations_state import upgrade_to_head
from app.models import Case, CaseEvent, ChcClaimLog, Clock, ClockEvent
from app.timeutil import utcnow
from bench.walker import Template, TemplateSet
from bench.workload import CYCLES, CaseSlot, Plan

TTL = timedelta(hours=24)


def _insert(session: Any, t: Template, org: str, walker: int, patient: str) -> int:
    c = t.case
    case_id = session.execute(
        insert(Case).returning(Case.id),
        [
            {
                "workflow_key": t.workflow,
                "workflow_version": t.version,
                "state": c["state"],
                "queue": c["queue"],
                "is_open": c["is_open"],
                "version": c["version"],
                "patient_ref": patient,
                "organisation": org,
                "site": c["site"],
                "opened_at": c["opened_at"],
                "created_at": c["created_at"],
                "updated_at": c["updated_at"],
                "closed_at": c["closed_at"],
                "attributes": c["attributes"],
            }
        ],
    ).scalar_one()
    session.execute(
        insert(CaseEvent),
        [
            {
                **e,
                "case_id": case_id,
                "actor_id": walker,
                "actor_username": "bench-walker",
                "actor_org": org,
                "idempotency_key": None,
            }
            for e in t.events
        ],
    )
    ids = {}
    for k in t.clocks:
        row = {key: v for key, v in k.items() if key != "local_id"}
        ids[k["local_id"]] = session.execute(
            insert(Clock).returning(Clock.id), [{**row, "case_id": case_id}]
        ).scalar_one()
    if t.clock_events:
        session.execute(
            insert(ClockEvent),
            [
                {
                    "clock_id": ids[ev["clock_local_id"]],
                    "case_id": case_id,
                    "kind": ev["kind"],
                    "at": ev["at"],
                    "recorded_at": ev["recorded_at"],
                    "case_event_seq": ev["case_event_seq"],
                    "dedupe_key": None,
                    "threshold_seconds": None,
                }
                for ev in t.clock_events
            ],
        )
    return int(case_id)


def sqlite_correctness(
    engine: Engine, codes: CodeSetRegistry, templates: TemplateSet, seed: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hf-bench-sqlite-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade_to_head(url)
        sa = make_engine(url)
        sessions = make_sessionmaker(sa)
        try:
            return _check(sessions, engine, templates, codes)
        finally:
            sa.dispose()


def _check(
    sessions: Any, engine: Engine, templates: TemplateSet, codes: CodeSetRegistry
) -> dict[str, Any]:
    writer = build_writer(Settings(), engine, codes)
    roles = ["discharge_team", "ward_clinician", "ic_coordinator", "chc_assessor"]
    with sessions() as s:
        walker = add_user(
            s,
            username="bench-walker",
            display_name="w",
            organisation="BENCH-ORG",
            roles=["system"],
            allow_internal_roles=True,
        ).id
        clin = add_user(
            s, username="bench-clinician", display_name="c", organisation="BENCH-ORG", roles=roles
        )
        assessors = [
            add_user(
                s,
                username=f"a{i}",
                display_name="a",
                organisation="BENCH-CLAIMS",
                roles=["chc_assessor"],
            )
            for i in range(8)
        ]
    actor = Actor(clin.id, clin.username, "BENCH-ORG", frozenset(roles))
    with sessions() as s, s.begin():
        n = 0
        for (_wf, _open), ts in templates.by_kind.items():
            for t in ts:
                _insert(s, t, "BENCH-ORG", walker, "9990000018")
                n += 1
        backlog = [
            _insert(s, t, "BENCH-CLAIMS", walker, "9990000026") for t in templates.backlog[:40]
        ]
    # Transitions from 4 threads (SQLite: one writer at a time, BEGIN IMMEDIATE).
    with sessions() as s:
        rows = s.execute(
            select(Case.id, Case.workflow_key, Case.state, Case.version).where(
                Case.is_open, Case.organisation == "BENCH-ORG"
            )
        ).all()
    slots = [CaseSlot(r[0], r[1], r[2], r[3]) for r in rows if r[1] == "discharge"][:40]
    taken = {s.case_id for s in slots}
    mix = [
        CaseSlot(r[0], r[1], r[2], r[3])
        for r in rows
        if (r[1], r[2]) in CYCLES and r[0] not in taken
    ][:40]
    errors: list[str] = []
    done = Counter[str]()

    def fire(plan: Plan, count: int) -> None:
        for _ in range(count):
            slot, op = plan.next()
            try:
                with sessions() as s:
                    service.fire_event(
                        s,
                        writer=writer,
                        actor=actor,
                        case_id=op.case_id,
                        body=EventCreate(event=op.event, data=op.data),
                        if_match=f'"{op.expected_version}"',
                        idempotency_key=None,
                        now=utcnow(),
                        ttl=TTL,
                    )
                Plan.done(slot, op)
                done[plan.kind] += 1
            except DomainError as exc:
                errors.append(f"{op.event}: {exc}")

    threads = [
        threading.Thread(target=fire, args=(Plan("update", slots[i::2]), 25)) for i in range(2)
    ]
    threads += [threading.Thread(target=fire, args=(Plan("mix", mix[i::2]), 25)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Claims: 8 assessors drain the backlog, each finishing a case before the next claim.
    cfg = chc_config(PROJECT_ROOT / "pathways" / "config")
    claimed: list[int] = []
    lock = threading.Lock()

    def assessor(user: Any) -> None:
        a = Actor(user.id, user.username, "BENCH-CLAIMS", frozenset({"chc_assessor"}))
        while True:
            try:
                with sessions() as s:
                    item = queue.claim_next(s, engine=engine, cfg=cfg, actor=a, now=utcnow())
            except DomainError as exc:
                if exc.code != "queue_empty":
                    errors.append(f"claim: {exc}")
                return
            with lock:
                claimed.append(item.case_id)
            with sessions() as s:
                version = s.get(Case, item.case_id).version  # type: ignore[union-attr]
                service.fire_event(
                    s,
                    writer=writer,
                    actor=a,
                    case_id=item.case_id,
                    body=EventCreate(event="withdraw", data={"withdrawal_reason": "bench"}),
                    if_match=f'"{version}"',
                    idempotency_key=None,
                    now=utcnow(),
                    ttl=TTL,
                )

    threads = [threading.Thread(target=assessor, args=(u,)) for u in assessors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with sessions() as s:
        logged = s.execute(
            select(ChcClaimLog.case_id, func.count())
            .where(ChcClaimLog.action == "claimed")
            .group_by(ChcClaimLog.case_id)
        ).all()
        disagree = 0
        cases = list(s.execute(select(Case)).scalars())
        for case in cases:
            events = list(
                s.execute(
                    select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
                ).scalars()
            )
            p = replay(engine.catalogue, events)
            if p.problems or p.state != case.state or p.version != case.version:
                disagree += 1
    return {
        "cases_loaded": n + len(backlog),
        "transitions_ok": dict(done),
        "errors": errors[:5],
        "claims": len(claimed),
        "backlog": len(backlog),
        "double_claimed_cases": sum(1 for _c, k in logged if k > 1),
        "replayed": len(cases),
        "replay_disagree": disagree,
    }
