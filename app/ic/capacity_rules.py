"""Capacity for intermediate care: the `ic_service` fact and the guards and effects of starting
in, moving between and changing IC services (pathways/intermediate_care.yaml).

Starting or moving into a service that is full is refused with its occupancy in the reason,
unless the event gives `capacity_override_reason`, which stays in the event as the audit of the
override. Moves between models keep the episode (and its 6-week clock) and are counted.

A service is filled only by its own organisation's staff: another organisation's service is
refused as if it did not exist (its reads are 404). The episode itself may belong to another
organisation (a step-down episode is the discharging trust's) when it is shared with the
provider, whose staff could not fire the event otherwise.
docs/domain.md §8.2, §8.5, §8.7.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.engine.context import EffectContext, GuardContext
from app.engine.registry import RuleRegistry
from app.ic import episode
from app.ic.repository import IcRepository

# This workflow's named rules, declared in its `Workflow` (never registered globally).
RULES = RuleRegistry()


# -- the capacity fact ------------------------------------------------------------------------
@dataclass(frozen=True)
class ServiceFact:
    id: int
    found: bool
    name: str = ""
    organisation: str = ""
    model: str = ""
    active: bool = False
    capacity: int = 0
    occupied: int = 0
    unit: str = "slots"


@RULES.fact("ic_service", "The IC service named by service_id, with its current occupancy.")
def ic_service(
    session: Session, case_id: int, _attributes: dict[str, Any], data: dict[str, Any]
) -> ServiceFact | None:
    service_id = data.get("service_id")
    if service_id is None:
        return None  # nothing to check yet: the event's `requires` asks for the service
    repo = IcRepository(session)
    # Only an event carries a service_id, so this runs inside the event's transaction: locking
    # the service row makes two people racing for its last bed queue, and the second one sees
    # the first in the occupancy (SQLite's single writer serialises them anyway).
    service = repo.service(int(service_id), for_update=True)
    if service is None:
        return ServiceFact(int(service_id), found=False)
    occupied = repo.occupancy([service.id], exclude_case=case_id).get(service.id, 0)
    return ServiceFact(
        service.id,
        True,
        service.name,
        service.organisation,
        service.model,
        service.active,
        service.capacity,
        occupied,
        service.unit,
    )


def _target_model(ctx: GuardContext) -> str | None:
    return episode.model_for_trigger(ctx.trigger) or ctx.attributes.get("model")


# -- services and capacity --------------------------------------------------------------------
@RULES.guard(
    "service_fits_model",
    "The service exists, is the caller's organisation's, is open and delivers the model.",
)
def service_fits_model(ctx: GuardContext) -> str | None:
    service = ctx.facts.get("ic_service")
    if not isinstance(service, ServiceFact):
        return None
    if not service.found or service.organisation != ctx.actor.organisation:
        return f"There is no IC service {service.id}."
    if not service.active:
        return f"{service.name} is closed to new starts."
    wanted = _target_model(ctx)
    if service.model != wanted:
        return (
            f"{service.name} delivers {episode.label(service.model)}, not {episode.label(wanted)}."
        )
    return None


@RULES.guard(
    "service_has_capacity",
    "The service has a free bed or slot, or the start over capacity gives a reason.",
)
def service_has_capacity(ctx: GuardContext) -> str | None:
    service = ctx.facts.get("ic_service")
    if not isinstance(service, ServiceFact) or not service.found:
        return None
    if service.organisation != ctx.actor.organisation:
        return None  # service_fits_model refused it without saying any more
    if service.occupied < service.capacity or ctx.data.get("capacity_override_reason"):
        return None
    return (
        f"{service.name} is full: {service.occupied} of {service.capacity} {service.unit} in "
        "use. Choose another service, or give capacity_override_reason to go over capacity."
    )


@RULES.guard("not_already_in_model", "A move goes to a different model.")
def not_already_in_model(ctx: GuardContext) -> str | None:
    current = ctx.attributes.get("model")
    if current == episode.model_for_trigger(ctx.trigger):
        return (
            f"The person is already in {episode.label(current)}; use change_service to move "
            "them to another team or unit of the same model."
        )
    return None


@RULES.guard("not_already_in_service", "A change of service goes to a different service.")
def not_already_in_service(ctx: GuardContext) -> str | None:
    service_id = ctx.data.get("service_id")
    if service_id is not None and service_id == ctx.attributes.get("service_id"):
        return "The person is already with this service."
    return None


def _models_used(ctx: EffectContext, model: str) -> list[str]:
    used = list(ctx.attributes.get("models_used") or [])
    return used if model in used else [*used, model]


@RULES.effect("model_started", "Records the model and service the episode started in.")
def model_started(ctx: EffectContext) -> None:
    model = episode.model_for_trigger(ctx.trigger)
    at = ctx.occurred_at.isoformat()
    values: dict[str, Any] = {"model": model, "model_since": at}
    values["models_used"] = _models_used(ctx, str(model))
    if not ctx.attributes.get("first_model"):
        values.update(first_model=model, started_at=at, model_moves=0, service_changes=0)
    ctx.ports.set_attributes(ctx.case_id, values)


@RULES.effect("model_moved", "Records a move to another model; the episode clock runs on.")
def model_moved(ctx: EffectContext) -> None:
    model = str(episode.model_for_trigger(ctx.trigger))
    ctx.ports.set_attributes(
        ctx.case_id,
        {
            "model": model,
            "model_since": ctx.occurred_at.isoformat(),
            "models_used": _models_used(ctx, model),
            "model_moves": int(ctx.attributes.get("model_moves") or 0) + 1,
        },
    )


@RULES.effect("service_changed", "Counts a move to another team of the same model.")
def service_changed(ctx: EffectContext) -> None:
    count = int(ctx.attributes.get("service_changes") or 0) + 1
    ctx.ports.set_attributes(ctx.case_id, {"service_changes": count})
