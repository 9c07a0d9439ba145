"""What pathway effects may change, implemented over the repositories (the engine's port)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.cases.repository import CaseRepository
from app.engine.engine import Engine
from app.errors import NotFound
from app.links.opening import open_linked
from app.links.repository import LinkRepository


class CaseEffectPorts:
    def __init__(self, session: Session, engine: Engine, actor: Actor, now: datetime) -> None:
        self.session, self.engine, self.actor, self.now = session, engine, actor, now
        self.cases = CaseRepository(session)

    def set_attributes(self, case_id: int, values: dict[str, Any]) -> None:
        case = self.cases.get(case_id)
        if case is None:
            raise NotFound(f"case {case_id} not found")
        case.attributes = {**case.attributes, **values}

    def open_linked_case(
        self,
        case_id: int,
        *,
        workflow: str,
        link_type: str,
        data: dict[str, Any],
        occurred_at: datetime,
        reuse_open: bool = False,
    ) -> int:
        source = self.cases.get(case_id)
        if source is None:
            raise NotFound(f"case {case_id} not found")
        if reuse_open:
            for link, other in LinkRepository(self.session).for_case(case_id):
                if (
                    link.from_case_id == case_id
                    and link.link_type == link_type
                    and other.workflow_key == workflow
                    and other.is_open
                ):
                    return other.id
        target = open_linked(
            self.session,
            engine=self.engine,
            actor=self.actor,
            source=source,
            workflow=workflow,
            link_type=link_type,
            site=None,
            data=data,
            occurred_at=occurred_at,
            reason="opened by the linked pathway",
            now=self.now,
        )
        return target.id
