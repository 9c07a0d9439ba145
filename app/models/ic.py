"""Intermediate-care services and their capacity (docs/domain.md §8.2, §8.5).

A service is one team or unit delivering one IC model at one site, with a capacity in beds
(bed-based IC) or slots (the models delivered at home). Occupancy is counted from the
`ic_placements` read model (each episode's current service, kept with every IC state change).
Every change to a service is kept in the append-only `ic_service_changes` audit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK
from app.models.event import refuse_change


class IcService(Base):
    __tablename__ = "ic_services"
    __table_args__ = (
        Index("ix_ic_services_site_model", "site", "model"),
        # Unique within the organisation only: a code used elsewhere must not be revealed by a 409.
        UniqueConstraint("organisation", "code"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # A short stable code people use on the phone, e.g. "SEF-REAB-N"; unique in its organisation.
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    organisation: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64))
    # crisis_response | home_based_ic | reablement | bed_based_ic
    model: Mapped[str] = mapped_column(String(32))
    # Beds for bed-based IC, slots (people at once) for the others.
    capacity: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def unit(self) -> str:
        return "beds" if self.model == "bed_based_ic" else "slots"


class IcServiceChange(Base):
    """Append-only: who created or changed a service, what changed, and why."""

    __tablename__ = "ic_service_changes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    service_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("ic_services.id", ondelete="RESTRICT"), index=True
    )
    # created | updated
    action: Mapped[str] = mapped_column(String(16))
    # {field: [old, new]} for an update; the initial values for a creation.
    changes: Mapped[dict[str, Any]]
    reason: Mapped[str | None] = mapped_column(String(2000))
    actor_id: Mapped[int] = mapped_column(BigInteger)
    actor_username: Mapped[str] = mapped_column(String(64))
    actor_org: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


event.listen(IcServiceChange, "before_update", refuse_change("update"))
event.listen(IcServiceChange, "before_delete", refuse_change("delete"))


class IcPlacement(Base):
    """Read model: each intermediate-care episode's current service and whether it holds a bed
    or slot there. Kept by `app.ic.readmodel.IcPlacements` in the transaction of every IC state
    change, and rebuilt from the cases by `homefirst metrics rebuild`. Occupancy is a count of
    these rows, so reading it never walks the episodes' attributes."""

    __tablename__ = "ic_placements"
    __table_args__ = (Index("ix_ic_placements_occupying", "service_id", "occupying"),)

    case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("cases.id", ondelete="RESTRICT"), primary_key=True
    )
    organisation: Mapped[str] = mapped_column(String(64))
    site: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(32))
    service_id: Mapped[int | None] = mapped_column(BigInteger)
    occupying: Mapped[bool] = mapped_column(Boolean)
