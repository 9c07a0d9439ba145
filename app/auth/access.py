"""Need to know: which role may use which read, and how much of it it gets.

The reads the service offers are named here (`READS`), each with the reductions its routes can
apply. Who gets which read, and at which level, is data: `pathways/config/access.yaml`, checked
when the service starts (an unknown role, an unknown read, a read left out or a level the read
cannot apply stops the start, as a bad pathway file does). The HTTP side (`app.auth.needs`)
enforces a grant in one place, a dependency on each read route.

Levels:
- `full`: every row the caller's organisation may see (it owns or shares the case), with the
  patient's identifiers.
- `no_identifiers`: the same rows with every patient identifier (`patient_ref`, `nhs_number`)
  withheld (null in JSON, empty in CSV).
- `shared_only`: only cases shared with the caller's organisation by another (referred to it),
  not the cases it owns; anything else answers 404, as another organisation's case does.

A user with several roles gets the widest level any of them grants for that read. A read grants
at most one reduced level, so "widest" is always well defined.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, model_validator

from app.auth.actor import KNOWN_ROLES
from app.configfiles import ConfigFileError, load_config

FILE = "access.yaml"
Level = Literal["full", "no_identifiers", "shared_only"]
LEVELS: tuple[Level, ...] = get_args(Level)
# Fields that identify a patient: withheld from a `no_identifiers` grant, wherever they are in
# the answer (so a field of that name added later is withheld too).
IDENTIFIER_FIELDS = frozenset({"patient_ref", "nhs_number"})
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Read:
    """A read the service offers: what it shows and the levels its routes can apply."""

    description: str
    levels: frozenset[Level] = frozenset({"full"})


_FULL_OR_SHARED: frozenset[Level] = frozenset({"full", "shared_only"})
_FULL_OR_ANONYMOUS: frozenset[Level] = frozenset({"full", "no_identifiers"})

READS: dict[str, Read] = {
    "cases.list": Read("Lists of cases with their patients (GET /cases)", _FULL_OR_SHARED),
    "cases.read": Read(
        "One case now: state, clocks, allowed events, links (GET /cases/{id}, /links)",
        _FULL_OR_SHARED,
    ),
    "cases.shares": Read(
        "Which organisations a case is shared with (GET /cases/{id}/shares)", _FULL_OR_SHARED
    ),
    "cases.history": Read(
        "A case's full history and derived discharge facts (GET /cases/{id}/events, "
        "/cases/{id}/discharge)"
    ),
    "adt.messages": Read(
        "ADT messages from the hospital's PAS that were refused, with their raw text "
        "(GET /adt/dead-letters)"
    ),
    "rfd.read": Read(
        "The Ready-for-Discharge list, JSON and CSV (GET /rfd), and the patient-level spell "
        "extract (GET /dashboard/exports/spells.csv, spells.json)",
        _FULL_OR_ANONYMOUS,
    ),
    "pathway_fit.read": Read(
        "The pathway-fit audit: 91-day outcomes and re-referrals by discharge pathway, and the "
        "discharges behind them (GET /pathway-fit, /pathway-fit/patients, the page)",
        _FULL_OR_ANONYMOUS,
    ),
    "fhir.read": Read(
        "Cases as FHIR R4: Encounter, EpisodeOfCare, Task, Flag (GET /fhir/R4/...)",
        frozenset({"full", "no_identifiers", "shared_only"}),
    ),
    "dashboard.feed": Read("Every event after a cursor (GET /dashboard/feed)", _FULL_OR_ANONYMOUS),
    "dashboard.metrics": Read(
        "Daily figures and their series, and the dashboard page (GET /dashboard/metrics, "
        "/dashboard/series)"
    ),
    "dashboard.exports": Read(
        "The acute discharge returns, daily and weekly, and the monthly DRD return (GET "
        "/dashboard/exports/acute-discharge-daily.csv, acute-discharge-weekly.csv, "
        "drd-monthly.csv, drd-monthly.json)"
    ),
    "quality.read": Read(
        "Data-quality measures of the discharge-ready date, per ward, and their trend (GET "
        "/data-quality, /data-quality.csv, /data-quality/series, /data-quality/series.csv, "
        "the /dashboard/quality page)"
    ),
    "quality.patients": Read(
        "The patients behind the data-quality measures, to fix their records (GET "
        "/data-quality/patients, /data-quality/patients.csv)",
        _FULL_OR_ANONYMOUS,
    ),
    "ledger.read": Read(
        "The delay ledger's figures: delayed bed days and cost by reason, organisation, pathway "
        "and ward, and partner statements (GET /ledger/summary, /ledger/statements, and CSV)"
    ),
    "ledger.patients": Read(
        "The patients behind the delay ledger's figures, and one patient's days explained (GET "
        "/ledger/patients, patients.csv, /ledger/cases/{id}/days)",
        _FULL_OR_ANONYMOUS,
    ),
    "forecast.read": Read(
        "The queues' pace, the CHC backlog clearance forecast and the backtest of the estimates: "
        "no patients (GET /forecast/queues, /forecast/clearance, /forecast/backtest, and CSV)"
    ),
    "forecast.patients": Read(
        "Each waiting patient's start window with its basis (GET /forecast/windows, windows.csv)",
        _FULL_OR_ANONYMOUS,
    ),
    "whatif.read": Read(
        "What-if runs of the organisation: scenarios, the inputs observed from its events and "
        "the results, no patients (GET /whatif, /whatif/{id}, /whatif/{id}/result.csv)"
    ),
    "ic.services": Read("Intermediate-care services with capacity and counts (GET /ic/services)"),
    "ic.service_changes": Read(
        "A service's change audit, with usernames (GET /ic/services/{id}/changes)"
    ),
    "ic.occupancy": Read("Who holds a service's places (GET /ic/services/{id}/occupancy)"),
    "ic.waiting_list": Read("People waiting for intermediate care (GET /ic/waiting-list)"),
    "ic.follow_ups": Read("Episodes owed the 91-day follow-up (GET /ic/follow-ups)"),
    "ic.report": Read("Intermediate-care figures for a period (GET /ic/report)"),
    "chc.worklist": Read(
        "The CHC working list, reconciliation queue and import reports (GET /queues/chc, "
        "/reconciliation/chc, /imports/chc-backlog)"
    ),
    "chc.case": Read("A CHC case with ratings and provenance (GET /chc/cases/{id}, /rag-history)"),
    "chc.panels": Read("Panel dates and agendas (GET /panels)"),
    "chc.report": Read(
        "CHC figures (GET /reports/chc, /dashboard/exports/chc-quarterly.csv)",
    ),
    "actions.list": Read(
        "Actions and milestones: yours, your teams', your organisation's, and a case's "
        "(GET /actions, /cases/{id}/actions)",
        _FULL_OR_SHARED,
    ),
    "audit.read": Read("The access audit: who read which cases (GET /audit)"),
    "pathways.read": Read(
        "Pathway definitions and diagrams, and the code lists they use (GET /pathways, /codelists)"
    ),
    "referrals.read": Read(
        "Referrals between partners: those a case sent, and an organisation's received and sent "
        "referrals with enough of the patient to work them (GET /cases/{id}/referrals, "
        "/referrals)",
        _FULL_OR_SHARED,
    ),
    "users.read": Read("Users of the organisation (GET /admin/users)"),
}


class AccessConfigError(ConfigFileError):
    """`access.yaml` is missing or invalid; the message names the file and the problem."""


class AccessFile(BaseModel):
    """`pathways/config/access.yaml`: for each read, the roles granted each level."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reads: dict[str, dict[Level, tuple[str, ...]]]

    @model_validator(mode="after")
    def _known_and_complete(self) -> AccessFile:
        problems: list[str] = []
        unknown_reads = sorted(set(self.reads) - set(READS))
        if unknown_reads:
            problems.append(f"unknown reads: {', '.join(unknown_reads)}")
        missing = sorted(set(READS) - set(self.reads))
        if missing:
            problems.append(
                f"reads not decided (list each, with [] for nobody): {', '.join(missing)}"
            )
        for name, levels in self.reads.items():
            read = READS.get(name)
            if read is None:
                continue
            unsupported = sorted(set(levels) - read.levels)
            if unsupported:
                problems.append(
                    f"{name}: level {', '.join(unsupported)} is not offered by this read "
                    f"(it offers {', '.join(sorted(read.levels))})"
                )
            if len(set(levels) - {"full"}) > 1:
                problems.append(f"{name}: at most one reduced level per read")
            seen: set[str] = set()
            for level, roles in levels.items():
                unknown = sorted(set(roles) - KNOWN_ROLES)
                if unknown:
                    problems.append(f"{name}.{level}: unknown roles: {', '.join(unknown)}")
                twice = sorted(seen & set(roles))
                if twice:
                    problems.append(f"{name}: roles given two levels: {', '.join(twice)}")
                seen |= set(roles)
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass(frozen=True)
class Grant:
    """What one caller may get of one read."""

    read: str
    level: Level

    @property
    def identifiers(self) -> bool:
        return self.level != "no_identifiers"

    @property
    def shared_only(self) -> bool:
        return self.level == "shared_only"

    def reduce(self, value: M) -> M:
        """`value` as this grant may see it: patient identifiers withheld unless granted."""
        return value if self.identifiers else withhold_identifiers(value)


class AccessPolicy:
    """The loaded `access.yaml`: grants by read and role."""

    def __init__(self, file: AccessFile) -> None:
        self._levels: dict[str, dict[str, Level]] = {
            name: {role: level for level, roles in levels.items() for role in roles}
            for name, levels in file.reads.items()
        }

    def roles(self, read: str) -> dict[str, Level]:
        """Each role granted `read`, with its level."""
        return dict(self._levels[read])

    def grant(self, read: str, roles: Iterable[str]) -> Grant | None:
        """The widest grant any of `roles` has for `read`, or None."""
        levels = {self._levels[read][r] for r in roles if r in self._levels[read]}
        if not levels:
            return None
        if "full" in levels:
            return Grant(read, "full")
        (reduced,) = levels  # at most one reduced level per read (checked at load)
        return Grant(read, reduced)


def load_access(config_dir: Path) -> AccessPolicy:
    """The policy in `config_dir/access.yaml`; raises `AccessConfigError` naming the problem."""
    return AccessPolicy(load_config(config_dir, FILE, AccessFile, error=AccessConfigError))


def withhold_identifiers(value: M) -> M:
    """A copy of `value` with every field named in `IDENTIFIER_FIELDS` set to None, at any
    depth (nested models, lists and dicts of them)."""
    update: dict[str, Any] = {}
    for name in type(value).model_fields:
        current = getattr(value, name)
        if name in IDENTIFIER_FIELDS:
            if current is not None:
                update[name] = None
            continue
        reduced = _withhold(current)
        if reduced is not current:
            update[name] = reduced
    return value.model_copy(update=update) if update else value


def _withhold(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return withhold_identifiers(value)
    if isinstance(value, list):
        items = [_withhold(v) for v in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, dict):  # free-form data (event data, figures): by key as well
        mapped = {k: None if k in IDENTIFIER_FIELDS else _withhold(v) for k, v in value.items()}
        return mapped if any(mapped[k] is not value[k] for k in value) else value
    return value
