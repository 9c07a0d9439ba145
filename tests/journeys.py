"""Random but valid data for generated journeys through a pathway (tests only)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.calc.nhs_number import nhs_number_check_digit
from app.cases import service
from app.cases.schemas import EventCreate
from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
from app.engine.engine import Engine
from app.engine.spec import FieldSpec, PathwaySpec
from app.errors import DomainError
from app.models import Case
from app.timeutil import LONDON
from tests.helpers import writer_for

SYSTEMS = ("LUHFT", "S&O")
WARDS = ("Ward 7", "Ward 9", "Critical care")
TTL = timedelta(hours=1)


def nhs_number(rng: random.Random) -> str:
    """A number from the 999 test range with a valid Modulus 11 check digit."""
    while True:
        first_nine = f"999{rng.randrange(1_000_000):06d}"
        check = nhs_number_check_digit(first_nine)
        if check is not None:
            return f"{first_nine}{check}"


class Maker:
    """Values for a transition's data: valid ones mostly, so most transitions are accepted."""

    def __init__(self, spec: PathwaySpec, codes: CodeSetRegistry, rng: random.Random) -> None:
        self.spec, self.codes, self.rng = spec, codes, rng

    def value(self, name: str, f: FieldSpec, at: datetime, case: Case) -> Any:
        rng = self.rng
        on: date = at.astimezone(LONDON).date()
        if name == "delay_code":
            open_codes = [d["code"] if isinstance(d, dict) else d for d in _open_delays(case)]
            if open_codes and rng.random() < 0.7:
                return rng.choice(open_codes)
        if name == "hospital_system":
            return rng.choice(SYSTEMS)
        if name == "ward":
            return rng.choice(WARDS)
        if f.type == "enum":
            return rng.choice(f.choices)
        if f.type == "boolean":
            return rng.random() < 0.3
        if f.type == "date":
            return on.isoformat()
        if f.type == "datetime":
            return (at - timedelta(hours=1)).isoformat()
        if f.type == "code":
            try:
                return rng.choice(self.codes.current(str(f.codelist), on).codes).code
            except CodeSetNotFound:
                return None
        if f.type == "integer":
            return f.minimum or 1
        return f"generated {name}"[: f.max_length]

    def data(self, event: str, at: datetime, case: Case) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for t in self.spec.transitions:
            if t.trigger != event:
                continue
            for name in t.requires:
                out[name] = self.value(name, self.spec.fields[name], at, case)
            for name in t.accepts:
                if name not in out and self.rng.random() < 0.6:
                    out[name] = self.value(name, self.spec.fields[name], at, case)
            break
        return {k: v for k, v in out.items() if v is not None}


def _open_delays(case: Case) -> list[Any]:
    return list((case.attributes or {}).get("open_delays") or [])


def walk(
    session: Session,
    engine: Engine,
    actor: Actor,
    maker: Maker,
    rng: random.Random,
    *,
    case_id: int,
    times: list[datetime],
    weights: dict[str, float],
    now: datetime,
) -> int:
    """Fire a random allowed event at each clinical time; returns how many were accepted.
    Refused ones (guards, bad picks) roll back and leave nothing behind."""
    version = session.get(Case, case_id).version  # type: ignore[union-attr]
    session.rollback()
    accepted = 0
    for at in times:
        case = session.get(Case, case_id)
        session.rollback()
        assert case is not None
        options = [t.trigger for t in maker.spec.transitions_from(case.state)]
        if not options:
            break
        event = rng.choices(options, [weights.get(o, 0.5) for o in options])[0]
        try:
            fired = service.fire_event(
                session,
                writer=writer_for(engine),
                actor=actor,
                case_id=case_id,
                body=EventCreate(
                    event=event,
                    data=maker.data(event, at, case),
                    occurred_at=at,
                    reason="generated",
                ),
                if_match=f'"{version}"',
                idempotency_key=None,
                now=now,
                ttl=TTL,
            )
            version = fired.body["case"]["version"]
            accepted += 1
        except DomainError:
            session.rollback()
    return accepted
