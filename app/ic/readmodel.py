"""IC placements as a read model: each episode's current service and whether it holds a place.

Called by the transition entry point after every intermediate-care state change, in its
transaction. A start or a move locks the service row before its capacity guard counts the
placements, and the placement is written in the same transaction, so two people can never both
take the last bed. Rebuilt from the cases (whose state and attributes the engine keeps from the
events) by `homefirst metrics rebuild`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.engine.readmodels import Change
from app.ic.episode import OCCUPYING_STATES, WORKFLOW
from app.models import Case, IcPlacement

# What a placement copies from its episode: a change to any of these rewrites the row.
TRACKED = ("state", "organisation", "site", "attributes.service_id", "attributes.model")
BIGINT_MAX = 2**63 - 1
COLUMNS = ("organisation", "site", "state", "model", "service_id", "occupying")


def placement(case: Case) -> dict[str, Any]:
    """The placement row an episode's current state and attributes give."""
    raw = (case.attributes or {}).get("service_id")
    service_id = raw if isinstance(raw, int) and 0 < raw <= BIGINT_MAX else None
    return {
        "case_id": case.id,
        "organisation": case.organisation,
        "site": case.site,
        "state": case.state,
        "model": (case.attributes or {}).get("model"),
        "service_id": service_id,
        "occupying": case.state in OCCUPYING_STATES and service_id is not None,
    }


class IcPlacements:
    name = "ic_placements"
    workflows = frozenset({WORKFLOW})

    def project(self, session: Session, change: Change) -> None:
        if not change.touches(*TRACKED):
            return
        values = placement(change.case)
        dialect = session.get_bind().dialect.name
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = upsert(IcPlacement).values(**values)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["case_id"], set_={k: stmt.excluded[k] for k in COLUMNS}
            )
        )

    def tick(self, session: Session, *, now: datetime) -> int:  # noqa: ARG002 - no time part
        return 0

    def rebuild(self, session: Session, *, now: datetime) -> int:  # noqa: ARG002
        return rebuild(session)

    def check(self, session: Session, *, now: datetime) -> list[str]:  # noqa: ARG002
        stored = {p.case_id: p for p in session.execute(select(IcPlacement)).scalars()}
        out: list[str] = []
        for case in session.execute(
            select(Case).where(Case.workflow_key == WORKFLOW).order_by(Case.id)
        ).scalars():
            have = stored.pop(case.id, None)
            expected = placement(case)
            if have is None:
                out.append(f"intermediate_care case {case.id}: no placement row")
                continue
            for name in COLUMNS:
                if getattr(have, name) != expected[name]:
                    out.append(
                        f"intermediate_care case {case.id}: {name} is {getattr(have, name)!r}, "
                        f"the episode gives {expected[name]!r}"
                    )
        out += [f"placement row {cid}: no intermediate_care case" for cid in sorted(stored)]
        return out


def rebuild(session: Session, batch: int = 2000) -> int:
    """Write every episode's placement again; returns the rows written. The caller commits."""
    session.execute(delete(IcPlacement))
    ids = list(
        session.execute(
            select(Case.id).where(Case.workflow_key == WORKFLOW).order_by(Case.id)
        ).scalars()
    )
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        cases = session.execute(select(Case).where(Case.id.in_(chunk))).scalars().all()
        session.execute(insert(IcPlacement), [placement(c) for c in cases])
    return len(ids)
