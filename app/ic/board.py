"""The IC coordinators' board (the `/ic/board` screen): the organisation's services with their
capacity and the open episodes in each, and the waiting list in priority order; every episode
with the version a change to it must name (If-Match) and its clocks.

Built on the API's own reads, so the board shows a person exactly what GET /ic/services,
/ic/waiting-list and /ic/services/{id}/occupancy show them: the services are the
organisation's own, the waiting list is `service.waiting_list` (its order and scoping), and the
people in a service are the occupants the organisation may see.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.ic import service
from app.ic.config import IcConfig
from app.ic.metrics import Result, clock_result
from app.ic.repository import IcRepository
from app.ic.schemas import ServiceRead, UcrConditionShown, WaitingRow
from app.models import Case, Clock

# The clocks a coordinator watches (pathways/intermediate_care.yaml): the 2-hour urgent
# response, the 2-day start, the 6-week episode and a delayed exit's wait.
BOARD_CLOCKS = ("ucr_2_hour", "start_within_2_days", "episode_6_weeks", "delayed_exit")


class BoardClock(BaseModel):
    name: str
    state: str
    result: Result
    started_at: datetime
    due_at: datetime | None
    warn_at: datetime | None
    stopped_at: datetime | None
    consumed_seconds: float
    budget_seconds: int


class WaitingEpisode(BaseModel):
    waiting: WaitingRow
    version: int
    clocks: dict[str, BoardClock]


class WaitingBoard(BaseModel):
    as_of: datetime
    order: list[str]
    items: list[WaitingEpisode]


class OpenEpisode(BaseModel):
    case_id: int
    version: int
    patient_ref: str | None
    site: str | None
    state: str
    model: str | None
    service_id: int
    started_at: datetime | None
    in_model_since: datetime | None
    ucr_condition: UcrConditionShown | None = None
    clocks: dict[str, BoardClock]


class ServiceOnBoard(BaseModel):
    service: ServiceRead
    episodes: list[OpenEpisode]


def services_board(
    session: Session,
    *,
    organisation: str,
    model: str | None,
    service_id: int | None,
    now: datetime,
    config: IcConfig | None = None,
) -> list[ServiceOnBoard]:
    """The organisation's services (one, or one model's, when asked) with the people in each
    that the organisation may see, as the occupancy read lists them."""
    services = service.list_services(
        session, organisation=organisation, site=None, model=model, active=None
    )
    if service_id is not None:
        services = [s for s in services if s.id == service_id]
    repo = IcRepository(session, organisation)
    occupants = {s.id: repo.occupants(s.id) for s in services}
    clocks = _clocks(repo, [c.id for cases in occupants.values() for c in cases], now)
    return [
        ServiceOnBoard(
            service=s,
            episodes=[
                _open_episode(c, s.id, clocks.get(c.id, {}), config) for c in occupants[s.id]
            ],
        )
        for s in services
    ]


def waiting_board(
    session: Session,
    *,
    config: IcConfig,
    organisation: str,
    planned_model: str | None,
    now: datetime,
) -> WaitingBoard:
    """The API's waiting list (highest need first, then longest since referral), each row with
    its case version and clocks."""
    waiting = service.waiting_list(
        session,
        config=config,
        site=None,
        planned_model=planned_model,
        now=now,
        organisation=organisation,
    )
    repo = IcRepository(session, organisation)
    ids = [row.case_id for row in waiting.items]
    versions = repo.versions(ids)
    clocks = _clocks(repo, ids, now)
    items = [
        WaitingEpisode(
            waiting=row, version=versions[row.case_id], clocks=clocks.get(row.case_id, {})
        )
        for row in waiting.items
        if row.case_id in versions
    ]
    return WaitingBoard(as_of=now, order=waiting.order, items=items)


def _clocks(
    repo: IcRepository, case_ids: list[int], now: datetime
) -> dict[int, dict[str, BoardClock]]:
    out: dict[int, dict[str, BoardClock]] = {}
    for name in BOARD_CLOCKS:
        for case_id, clock in repo.current_clocks(case_ids, name).items():
            out.setdefault(case_id, {})[name] = _board_clock(clock, now)
    return out


def _board_clock(clock: Clock, now: datetime) -> BoardClock:
    return BoardClock(
        name=clock.name,
        state=clock.state,
        result=clock_result(clock, now),
        started_at=clock.started_at,
        due_at=clock.due_at,
        warn_at=clock.warn_at,
        stopped_at=clock.stopped_at,
        consumed_seconds=clock.consumed_seconds,
        budget_seconds=clock.budget_seconds,
    )


def _open_episode(
    case: Case, service_id: int, clocks: dict[str, BoardClock], config: IcConfig | None
) -> OpenEpisode:
    attrs = case.attributes or {}
    return OpenEpisode(
        case_id=case.id,
        version=case.version,
        patient_ref=case.patient_ref,
        site=case.site,
        state=case.state,
        model=attrs.get("model"),
        service_id=service_id,
        started_at=attrs.get("started_at"),
        in_model_since=attrs.get("model_since"),
        ucr_condition=service.ucr_condition_shown(attrs, config) if config else None,
        clocks=clocks,
    )
