"""What the transition benchmarks fire: legal cycles on open cases, planned per client.

- `update`: discharge `update_details` (an internal transition: lock, version check, update,
  one event). The same statements as the raw psycopg loop and the pgbench script.
- `mix`: state changes that move clocks and run effects, on all three workflows:
  discharge assessing <-> ready_for_discharge (the days_delayed clock starts and stops),
  sample-referral active <-> on_hold (the completion clock pauses and resumes),
  chc allocated <-> deferred.

Each client owns a disjoint slice of cases, so clients never wait on each other's row locks and
every request is expected to succeed (a failure is counted as an error).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import psycopg

from bench.walker import WARDS

# (workflow, state) -> (event, data, next state)
CYCLES: dict[tuple[str, str], tuple[str, dict[str, Any], str]] = {
    ("discharge", "assessing"): ("not_meeting_ctr", {"ctr_note": "bench"}, "ready_for_discharge"),
    ("discharge", "ready_for_discharge"): ("meets_ctr_again", {}, "assessing"),
    ("sample-referral", "active"): ("hold", {"hold_reason": "patient_request"}, "on_hold"),
    ("sample-referral", "on_hold"): ("resume", {}, "active"),
    ("chc", "allocated"): ("defer", {"deferral_reason": "bench"}, "deferred"),
    ("chc", "deferred"): ("allocate", {"allocated_to": "bench assessor"}, "allocated"),
}
QUEUES = {
    ("discharge", "assessing"): "assessment",
    ("discharge", "ready_for_discharge"): "rfd",
    ("sample-referral", "active"): "active",
    ("sample-referral", "on_hold"): "on-hold",
    ("chc", "allocated"): "chc-allocated",
    ("chc", "deferred"): "chc-deferred",
}


@dataclass
class CaseSlot:
    case_id: int
    workflow: str
    state: str
    version: int


@dataclass(frozen=True)
class Op:
    case_id: int
    event: str
    data: dict[str, Any]
    expected_version: int
    next_state: str
    next_queue: str | None
    workflow: str


class Plan:
    """One client's cases, visited round robin."""

    def __init__(self, kind: str, slots: list[CaseSlot]) -> None:
        self.kind, self.slots = kind, slots
        self._order = itertools.cycle(range(len(slots)))
        self._n = 0

    def next(self) -> tuple[CaseSlot, Op]:
        slot = self.slots[next(self._order)]
        self._n += 1
        if self.kind == "update":
            data = {"ward": WARDS[self._n % len(WARDS)], "responsible_person": f"bench {self._n}"}
            return slot, Op(
                slot.case_id,
                "update_details",
                data,
                slot.version,
                slot.state,
                QUEUES.get((slot.workflow, slot.state)),
                slot.workflow,
            )
        event, data, nxt = CYCLES[(slot.workflow, slot.state)]
        return slot, Op(
            slot.case_id,
            event,
            dict(data),
            slot.version,
            nxt,
            QUEUES.get((slot.workflow, nxt)),
            slot.workflow,
        )

    @staticmethod
    def done(slot: CaseSlot, op: Op) -> None:
        slot.version += 1
        slot.state = op.next_state


def pick_cases(dsn: str, kind: str, total: int, organisation: str) -> list[CaseSlot]:
    """Open cases for a workload, deterministically (lowest ids first), with their versions."""
    with psycopg.connect(dsn) as conn:
        if kind == "update":
            rows = conn.execute(
                "SELECT id, workflow_key, state, version FROM cases WHERE workflow_key = "
                "'discharge' AND is_open AND organisation = %s ORDER BY id LIMIT %s",
                (organisation, total),
            ).fetchall()
        else:
            states = [(w, s) for (w, s) in CYCLES]
            per = max(total // 3, 1)
            rows = []
            for wf in ("discharge", "sample-referral", "chc"):
                names = [s for (w, s) in states if w == wf]
                rows += conn.execute(
                    "SELECT id, workflow_key, state, version FROM cases WHERE workflow_key = %s "
                    "AND state = ANY(%s) AND is_open AND organisation = %s ORDER BY id LIMIT %s",
                    (wf, names, organisation, per),
                ).fetchall()
    return [CaseSlot(int(r[0]), r[1], r[2], int(r[3])) for r in rows]


def refresh_versions(dsn: str, slots: list[CaseSlot]) -> None:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, state, version FROM cases WHERE id = ANY(%s)", ([s.case_id for s in slots],)
        ).fetchall()
    now = {int(r[0]): (r[1], int(r[2])) for r in rows}
    for s in slots:
        s.state, s.version = now[s.case_id]


def split(slots: list[CaseSlot], clients: int) -> list[list[CaseSlot]]:
    return [slots[i::clients] for i in range(clients)]
