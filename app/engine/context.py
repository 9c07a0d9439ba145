"""What guards and effects see: plain facts about the case, never the ORM row."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from app.auth.actor import Actor
from app.engine.spec import TransitionSpec


@dataclass(frozen=True)
class GuardContext:
    case_id: int | None
    pathway_key: str
    state: str
    trigger: str
    dest: str
    attributes: dict[str, Any]
    data: dict[str, Any]
    actor: Actor
    occurred_at: datetime
    reason: str | None = None
    # Read-side facts the transition declared (`facts:` in the pathway file), by name; each is
    # looked up when a guard first reads it (`LazyFacts`).
    facts: Mapping[str, Any] = field(default_factory=dict)

    def fact(self, name: str) -> Any:
        """The value in this event's data, else the value already on the case."""
        if name in self.data:
            return self.data[name]
        return self.attributes.get(name)


class LazyFacts(Mapping[str, Any]):
    """A transition's declared facts, each looked up the first time a guard reads it: a guard
    that decides on the event's data alone (or on the case) costs no query. That matters for
    `allowed_events`, which judges every transition from the state on every answer."""

    def __init__(self, names: tuple[str, ...], lookup: Callable[[str], Any]) -> None:
        self._names, self._lookup = names, lookup
        self._found: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        if name not in self._found:
            self._found[name] = self._lookup(name)
        return self._found[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@dataclass
class MachineModel:
    """The throwaway object `transitions` moves between states for one firing."""

    state: str
    # One context per transition the caller may fire (keyed by the spec object itself, so two
    # branches with the same destination are never confused).
    contexts: dict[TransitionSpec, GuardContext]
    rejections: list[str] = field(default_factory=list)
    taken: TransitionSpec | None = None


class FactPort(Protocol):
    """Looks up a declared read-side fact for a case (implemented over repositories)."""

    def lookup(
        self, name: str, case_id: int, attributes: dict[str, Any], data: dict[str, Any]
    ) -> Any: ...


@dataclass(frozen=True)
class Recipient:
    """Who a notification is for: the person `username` of `organisation`, else the team
    `role` of it, else the whole organisation; `organisation` None is the case's own."""

    organisation: str | None = None
    role: str | None = None
    username: str | None = None


class EffectPorts(Protocol):
    """What effects may do to the world; the service layer implements it over repositories."""

    def set_attributes(self, case_id: int, values: dict[str, Any]) -> None: ...

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
        """Open a case on another workflow for the same patient, linked to this one; with
        `reuse_open`, return an open case already linked that way instead of opening another."""
        ...

    def notify(self, case_id: int, *, kind: str, summary: str, to: Recipient | None = None) -> None:
        """Tell the case's subscribers (README "Notifications"), or only `to`: an outbox row
        written with the change; no patient data in `summary`."""
        ...


@dataclass(frozen=True)
class EffectContext:
    """What an effect sees after a state change, inside the same transaction."""

    case_id: int
    pathway_key: str
    trigger: str
    from_state: str | None
    to_state: str
    attributes: dict[str, Any]
    data: dict[str, Any]
    actor: Actor
    occurred_at: datetime
    ports: EffectPorts
