"""The engine's FactPort: read-side facts that guards declared, looked up with the session."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.engine.registry import RuleRegistry


class CaseFacts:
    def __init__(self, session: Session, rules: RuleRegistry) -> None:
        self.session, self.rules = session, rules

    def lookup(
        self, name: str, case_id: int, attributes: dict[str, Any], data: dict[str, Any]
    ) -> Any:
        return self.rules.facts[name].fn(self.session, case_id, attributes, data)
