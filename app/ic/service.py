"""Intermediate-care use cases: define services, read capacity, the waiting list, follow-ups.

Writes run in one Unit of Work and leave an audit row; reads derive occupancy and waits from the
episodes themselves (docs/domain.md §8.5 capacity and waits, §8.9 the 91-day follow-up).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.auth.actor import Actor
from app.db import UnitOfWork
from app.errors import Conflict, Forbidden, NotFound
from app.ic import episode
from app.ic.config import IcConfig
from app.ic.repository import IcRepository
from app.ic.schemas import (
    FollowUpList,
    FollowUpRow,
    OccupancyRead,
    Occupant,
    ServiceChangeRead,
    ServiceCreate,
    ServiceRead,
    ServiceUpdate,
    UcrConditionShown,
    WaitingList,
    WaitingRow,
)
from app.models import Case, Clock, IcService, IcServiceChange

# Who may define services and change their capacity.
SERVICE_ADMIN_ROLES = ("admin", "manager")
WAITING_LIST_LIMIT = 2000


def service_read(service: IcService, occupied: int) -> ServiceRead:
    return ServiceRead(
        id=service.id,
        code=service.code,
        name=service.name,
        organisation=service.organisation,
        site=service.site,
        model=service.model,
        unit="beds" if service.unit == "beds" else "slots",
        capacity=service.capacity,
        occupied=occupied,
        free=max(service.capacity - occupied, 0),
        over_capacity=occupied > service.capacity,
        active=service.active,
        created_at=service.created_at,
        updated_at=service.updated_at,
    )


class OtherOrganisation(Forbidden):
    code, title = "other_organisation", "Not your organisation"


def list_services(
    session: Session,
    *,
    organisation: str | None,
    site: str | None,
    model: str | None,
    active: bool | None,
) -> list[ServiceRead]:
    """The organisation's own services (every organisation's with None: the server's CLI)."""
    repo = IcRepository(session, organisation)
    services = repo.services(site=site, model=model, active=active)
    counts = repo.occupancy([s.id for s in services])
    return [service_read(s, counts.get(s.id, 0)) for s in services]


def get_service(session: Session, *, service_id: int, organisation: str) -> ServiceRead:
    repo = IcRepository(session, organisation)
    service = _service(repo, service_id)
    return service_read(service, repo.occupancy([service.id]).get(service.id, 0))


def occupancy(
    session: Session,
    *,
    service_id: int,
    now: datetime,
    organisation: str,
    config: IcConfig | None = None,
) -> OccupancyRead:
    """The whole occupancy of one of the organisation's services, listing only the people the
    organisation may see (a share withdrawn after the start leaves the person counted)."""
    repo = IcRepository(session, organisation)
    service = _service(repo, service_id)
    occupants = repo.occupants(service.id)
    return OccupancyRead(
        as_of=now,
        service=service_read(service, repo.occupancy([service.id]).get(service.id, 0)),
        occupants=[
            Occupant(
                case_id=c.id,
                patient_ref=c.patient_ref,
                state=c.state,
                model=c.attributes.get("model"),
                in_model_since=c.attributes.get("model_since"),
                started_at=c.attributes.get("started_at"),
                ucr_condition=ucr_condition_shown(c.attributes, config) if config else None,
            )
            for c in occupants
        ],
    )


def create_service(
    session: Session, *, actor: Actor, body: ServiceCreate, now: datetime
) -> ServiceRead:
    _require_admin(actor)
    organisation = body.organisation or actor.organisation
    if organisation != actor.organisation:
        # The caller can see it named; unlike a service id, there is nothing here to hide.
        raise OtherOrganisation(
            f"services are defined by their own organisation; you belong to {actor.organisation}",
            organisation=organisation,
        )
    with UnitOfWork(session):
        repo = IcRepository(session, organisation)
        if repo.service_by_code(body.code) is not None:
            raise Conflict(
                f"an IC service with code {body.code!r} already exists", service_code=body.code
            )
        service = IcService(
            code=body.code,
            name=body.name,
            organisation=organisation,
            site=body.site,
            model=body.model,
            capacity=body.capacity,
            active=body.active,
            created_at=now,
            updated_at=now,
        )
        repo.add_service(service)
        initial = {k: getattr(service, k) for k in ("code", "name", "site", "model", "capacity")}
        _audit(
            repo, service, actor, "created", {**initial, "active": service.active}, body.reason, now
        )
        read = service_read(service, 0)
    return read


def update_service(
    session: Session, *, actor: Actor, service_id: int, body: ServiceUpdate, now: datetime
) -> ServiceRead:
    _require_admin(actor)
    with UnitOfWork(session):
        repo = IcRepository(session, actor.organisation)
        service = _service(repo, service_id, for_update=True)
        wanted = body.model_dump(exclude_unset=True, exclude={"reason"})
        changes = {
            k: [getattr(service, k), v]
            for k, v in wanted.items()
            if v is not None and getattr(service, k) != v
        }
        for name, (_old, new) in changes.items():
            setattr(service, name, new)
        if changes:
            service.updated_at = now
            _audit(repo, service, actor, "updated", changes, body.reason, now)
        read = service_read(service, repo.occupancy([service.id]).get(service.id, 0))
    return read


def service_changes(
    session: Session, *, service_id: int, organisation: str
) -> list[ServiceChangeRead]:
    repo = IcRepository(session, organisation)
    _service(repo, service_id)
    return [
        ServiceChangeRead(
            action=c.action,
            changes=c.changes,
            reason=c.reason,
            by=c.actor_username,
            organisation=c.actor_org,
            at=c.at,
        )
        for c in repo.changes(service_id)
    ]


def waiting_list(
    session: Session,
    *,
    config: IcConfig,
    site: str | None,
    planned_model: str | None,
    now: datetime,
    organisation: str,
) -> WaitingList:
    """Everyone accepted and waiting for a bed or slot: highest need first, then longest wait
    since referral (the wait the 2-day start clock counts)."""
    repo = IcRepository(session, organisation)
    cases = repo.episodes_in_state(episode.WAITING_STATE, site=site, limit=WAITING_LIST_LIMIT)
    if planned_model is not None:
        cases = [c for c in cases if c.attributes.get("planned_model") == planned_model]
    ids = [c.id for c in cases]
    since = repo.latest_event_times(ids, "await_capacity")
    clocks = repo.current_clocks(ids, "start_within_2_days")
    order = list(config.waiting_list.priority_order)
    rank = {p: i for i, p in enumerate(order)}
    cases.sort(
        key=lambda c: (rank.get(str(c.attributes.get("priority")), len(rank)), c.opened_at, c.id)
    )
    rows = [_waiting_row(c, since.get(c.id), clocks.get(c.id), now, config) for c in cases]
    return WaitingList(as_of=now, count=len(rows), order=order, items=rows)


def follow_ups(
    session: Session,
    *,
    config: IcConfig,
    site: str | None,
    due_by: date | None,
    now: datetime,
    organisation: str,
) -> FollowUpList:
    """Ended episodes still owed their 91-day still-at-home follow-up, soonest due first."""
    today = episode.london_day(now)
    rows: list[FollowUpRow] = []
    scoped = IcRepository(session, organisation)
    for case in scoped.episodes_in_state("ended", site=site, limit=10_000):
        status = episode.follow_up(case.attributes, config)
        if not status.needed or status.due_on is None:
            continue
        if due_by is not None and status.due_on > due_by:
            continue
        rows.append(
            FollowUpRow(
                case_id=case.id,
                patient_ref=case.patient_ref,
                site=case.site,
                outcome=case.attributes.get("outcome"),
                ended_at=case.attributes.get("ended_at"),
                due_on=status.due_on,
                overdue=status.due_on < today,
            )
        )
    rows.sort(key=lambda r: (r.due_on, r.case_id))
    return FollowUpList(as_of=now, count=len(rows), items=rows)


def ucr_condition_shown(attributes: dict[str, Any], config: IcConfig) -> UcrConditionShown | None:
    """The 2-hour referral's condition with its label (PUBLISHED-RULES row 35), if recorded."""
    found = config.ucr_condition(attributes.get("ucr_condition"))
    if found is None:
        return None
    code, label, verbatim = found
    return UcrConditionShown(code=code, label=label, verbatim=verbatim)


def _waiting_row(
    case: Case, since: datetime | None, clock: Clock | None, now: datetime, config: IcConfig
) -> WaitingRow:
    attrs = case.attributes
    due = clock.due_at if clock is not None and clock.state == "running" else None
    return WaitingRow(
        case_id=case.id,
        patient_ref=case.patient_ref,
        site=case.site,
        direction=attrs.get("direction"),
        referrer=attrs.get("referrer"),
        priority=attrs.get("priority"),
        planned_model=attrs.get("planned_model"),
        ucr_condition=ucr_condition_shown(attrs, config),
        referred_at=case.opened_at,
        waiting_since=since,
        hours_since_referral=round((now - case.opened_at).total_seconds() / 3600, 1),
        start_due_at=due,
        start_overdue=due is not None and due <= now,
    )


def _service(repo: IcRepository, service_id: int, *, for_update: bool = False) -> IcService:
    service = repo.service(service_id, for_update=for_update)
    if service is None:
        raise NotFound(f"IC service {service_id} not found")  # another organisation's too
    return service


def _require_admin(actor: Actor) -> None:
    if actor.role_for(SERVICE_ADMIN_ROLES) is None:
        raise Forbidden(
            "defining IC services needs one of the roles: " + ", ".join(SERVICE_ADMIN_ROLES),
            required_roles=list(SERVICE_ADMIN_ROLES),
        )


def _audit(
    repo: IcRepository,
    service: IcService,
    actor: Actor,
    action: str,
    changes: dict[str, Any],
    reason: str | None,
    now: datetime,
) -> None:
    repo.add_change(
        IcServiceChange(
            service_id=service.id,
            action=action,
            changes=changes,
            reason=reason,
            actor_id=actor.user_id,
            actor_username=actor.username,
            actor_org=actor.organisation,
            at=now,
        )
    )
