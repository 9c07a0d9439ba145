"""What the CHC screens share: the CHC configuration, a refusal as an error summary, firing an
event through the API's own service (the one transition entry point), and display helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from app.auth.access import AccessPolicy
from app.auth.actor import Actor
from app.cases import service as cases
from app.cases.schemas import EventCreate
from app.chc.config import ChcConfig, chc_config
from app.config import Settings
from app.errors import DomainError
from app.security.text import control_character, control_message
from app.timeutil import LONDON, utcnow

# NHS.UK tag colours for the queue colours (amber has no tag of its own: orange is the nearest).
RAG_TAG = {"red": "nhsuk-tag--red", "amber": "nhsuk-tag--orange", "green": "nhsuk-tag--green"}


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def config_of(request: Request) -> ChcConfig:
    """The CHC configuration the API uses (pathways/config/chc-*.yaml, cached)."""
    return chc_config(settings_of(request).pathways_dir / "config")


def humanise(name: str | None) -> str:
    """`full_assessment` -> `Full assessment` (states, outcomes, rule ids)."""
    return (name or "").replace("_", " ").capitalize()


def error_list(
    exc: DomainError,
    anchor: Callable[[str], str | None] = lambda _field: None,
    labels: dict[str, str] | None = None,
) -> list[dict[str, str]]:
    """A refusal as the NHS error summary's list: every field problem and every reason the
    service gave, each named as the page labels it and linking to its field where the page
    has one (else to the form)."""
    items: list[dict[str, str]] = []
    for error in exc.extra.get("errors", []) or []:
        field = str(error.get("field", ""))
        problem = str(error.get("problem", ""))
        name = (labels or {}).get(field) or humanise(field)
        items.append({"text": f"{name}: {problem}", "href": anchor(field) or "#form"})
    for reason in exc.extra.get("reasons", []) or []:
        items.append({"text": str(reason), "href": "#form"})
    if not items:
        items.append({"text": exc.detail, "href": "#form"})
    return items


def fire(
    request: Request,
    db: Session,
    actor: Actor,
    case_id: int,
    *,
    event: str,
    data: dict[str, Any],
    version: int,
) -> dict[str, Any]:
    """Fire `event` as the API's `POST /cases/{id}/events` does: the same service, scoped to
    the person's organisation, refused with 412 when the case changed since `version` (the
    version the person read). Raises the service's DomainError on a refusal."""
    stored = cases.fire_event(
        db,
        writer=request.app.state.writer,
        actor=actor,
        case_id=case_id,
        body=EventCreate(event=event, data=data),
        if_match=f'"{version}"',
        idempotency_key=None,
        now=utcnow(),
        ttl=settings_of(request).idempotency_ttl,
        visible_to=actor.organisation,
    )
    body: dict[str, Any] = stored.body
    return body


def has_any(actor: Actor, roles: Iterable[str]) -> bool:
    return bool(actor.roles & set(roles))


def when(moment: datetime | None) -> str:
    """A time as people in England read it (London time)."""
    return moment.astimezone(LONDON).strftime("%-d %b %Y %H:%M") if moment else ""


# Passed to every CHC template.
HELPERS: dict[str, Any] = {"humanise": humanise, "when": when, "rag_tag": RAG_TAG}


# The CHC screens, each with the read it needs (as its routes declare).
CHC_PAGES = (
    ("/chc/queue", "Work queue", "chc.worklist"),
    ("/chc/panels", "Panel agenda", "chc.panels"),
    ("/chc/imports", "Backlog imports", "chc.worklist"),
    ("/chc/reconciliation", "Reconciliation", "chc.worklist"),
)


def chc_nav(request: Request, actor: Actor) -> list[tuple[str, str]]:
    """The CHC screens this person may open, for the screens' own navigation."""
    access: AccessPolicy = request.app.state.access
    return [(h, t) for h, t, read in CHC_PAGES if access.grant(read, actor.roles) is not None]


def text_problems(
    fields: dict[str, tuple[str, bool]], anchor: Callable[[str], str]
) -> list[dict[str, str]]:
    """Form text the service must not store, as error summary items: a control character
    (free text may hold tab and line breaks; a one-line field none). `fields` maps a field's
    label to (value, single_line); the API's input checks refuse the same."""
    found = []
    for label, (value, single_line) in fields.items():
        char = control_character(value, single_line=single_line)
        if char is not None:
            found.append({"text": f"{label} {control_message(char)}", "href": anchor(label)})
    return found
