"""Metrics for a reporting day, as at its snapshot time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.chc.config import ChcConfig
from app.chc.metrics import chc_org_figures
from app.codelists.loader import CodeSetNotFound, CodeSetRegistry
from app.dashboard import snapshots
from app.dashboard.context import MetricsContext
from app.dashboard.live_figures import DAILY, Freshness, LiveSource
from app.dashboard.live_repository import LiveRepository
from app.dashboard.repository import DashboardRepository
from app.dashboard.snapshots import Place
from app.discharge.edd import EDD_EVENTS, edd_at, first_edd, settings_of
from app.discharge.history import EVENTS_OF_INTEREST, derive_facts
from app.discharge.metrics import Spell, assemble, discharge_metrics, snapshot_time
from app.discharge.repository import DischargeRepository
from app.discharge.spell_rows import DELAY_LIST, family_lookup, micros
from app.discharge.wards import WARD_EVENTS, ward_at
from app.engine.engine import Engine
from app.errors import ValidationFailed
from app.ic.reports import build_report
from app.models import Case, CaseEvent
from app.timeutil import LONDON, day_bounds, london_date

MAX_SERIES_DAYS = 365
# Events the patient-level extract reads besides the facts' (the planned pathway at opening).
EXTRACT_EVENTS = frozenset({"open", "accept"})
SERIES_FIELDS = (
    "nctr_on_day",
    "nctr_remaining",
    "discharged",
    "remaining_delayed_bed_days",
    "escalated",
)


def compute_metrics(
    session: Session,
    *,
    day: date,
    site: str | None,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    at: time | None = None,
    ward: str | None = None,
) -> dict[str, Any]:
    """The day's figures: today's from the spell projection (SQL aggregates), a finished day's
    by deriving every spell's facts from its events as at the end of the day; with `at`, as at
    that London time of the day (the position at the morning huddle), derived from the events
    the same way. With `ward`, the patients on that ward at the snapshot (a patient discharged
    in the day counts on the ward they left from); intermediate care has no hospital ward, so
    its figures are left out (null)."""
    if day > london_date(now):
        raise ValidationFailed(f"{day.isoformat()} is in the future: no figures yet")
    snapshot = snapshot_time(day, now)
    if at is not None:
        snapshot = london_instant(day, at)
        if snapshot > now:
            raise ValidationFailed(
                f"{at:%H:%M} on {day.isoformat()} (London time) has not come yet: no figures"
            )
    if at is None and snapshot >= now:
        discharge = live_discharge(
            session, day=day, site=site, organisation=organisation, now=now, ctx=ctx, ward=ward
        )
    else:
        discharge = plain_discharge(
            session,
            day=day,
            site=site,
            organisation=organisation,
            now=now,
            ctx=ctx,
            snapshot=snapshot,
            ward=ward,
        )
    ic = None if ward else _ic(session, ctx, day, site, organisation, min(now, snapshot))
    figures = _figures(day, Place(site, ward), organisation, snapshot, now, discharge, ic)
    if at is not None:
        figures["at"] = f"{at:%H:%M}"
    return figures


def finished_day_figures(
    session: Session,
    *,
    day: date,
    organisation: str,
    places: list[Place],
    now: datetime,
    ctx: MetricsContext,
) -> dict[Place, dict[str, Any]]:
    """`compute_metrics` of a finished day for several places at once (the nightly snapshots):
    the discharge figures from one derivation of the organisation's day, sliced by place, and
    the intermediate-care figures of each site."""
    snapshot = snapshot_time(day, now)
    wanted = {Place(*p) for p in places}  # (site, ward) pairs or Places
    discharge = places_discharge(
        session, day=day, organisation=organisation, places=list(wanted), now=now, ctx=ctx
    )
    out = {}
    for place in wanted:
        ic = (
            None
            if place.ward
            else _ic(session, ctx, day, place.site, organisation, min(now, snapshot))
        )
        out[place] = _figures(day, place, organisation, snapshot, now, discharge[place], ic)
    return out


def _figures(
    day: date,
    place: Place,
    organisation: str,
    snapshot: datetime,
    now: datetime,
    discharge: dict[str, Any],
    ic: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "date": day.isoformat(),
        "site": place.site,
        "ward": place.ward,
        "organisation": organisation,
        "snapshot_at": snapshot.isoformat(),
        "snapshot_at_london": snapshot.astimezone(LONDON).isoformat(),
        "final": snapshot < now,
        "discharge": discharge,
        "intermediate_care": ic,
    }


def london_instant(day: date, at: time) -> datetime:
    """`at` o'clock London time on `day`, as UTC (GMT or BST, whichever is in force then)."""
    return datetime.combine(day, at, tzinfo=LONDON).astimezone(UTC)


def plain_discharge(
    session: Session,
    *,
    day: date,
    site: str | None,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    snapshot: datetime | None = None,
    ward: str | None = None,
) -> dict[str, Any]:
    """The discharge figures derived from the raw events, spell by spell: the definition the
    projection is checked against. As at the end of the day (or now), or at `snapshot`; with
    `ward`, of the patients on that ward at the snapshot."""
    snapshot = snapshot or snapshot_time(day, now)
    day_start, _ = day_bounds(day)
    spells = [
        spell
        for _, spell, _ in derived_spells(
            session,
            start=day_start,
            snapshot=snapshot,
            site=site,
            organisation=organisation,
            ctx=ctx,
            ward=ward,
        )
    ]
    return discharge_metrics(
        spells,
        day=day,
        snapshot=snapshot,
        family_precedence=ctx.discharge.primary_reason_family_precedence,
        labels=delay_labels(ctx.codes, day),
    )


def places_discharge(
    session: Session,
    *,
    day: date,
    organisation: str,
    places: list[Place],
    now: datetime,
    ctx: MetricsContext,
) -> dict[Place, dict[str, Any]]:
    """`plain_discharge` of a finished day for several places at once: the organisation's
    spells are derived from the events once and sliced by site and ward (the ward at the
    snapshot), so restating a day costs one derivation, not one per stored place."""
    snapshot = snapshot_time(day, now)
    spells = [
        spell
        for _, spell, _ in derived_spells(
            session,
            start=day_bounds(day)[0],
            snapshot=snapshot,
            site=None,
            organisation=organisation,
            ctx=ctx,
        )
    ]
    labels = delay_labels(ctx.codes, day)
    precedence = ctx.discharge.primary_reason_family_precedence
    return {
        place: discharge_metrics(
            [
                s
                for s in spells
                if (place.site is None or s.site == place.site)
                and (place.ward is None or s.ward == place.ward)
            ],
            day=day,
            snapshot=snapshot,
            family_precedence=precedence,
            labels=labels,
        )
        for place in set(places)
    }


def derived_spells(
    session: Session,
    *,
    start: datetime,
    snapshot: datetime,
    site: str | None,
    organisation: str,
    ctx: MetricsContext,
    ward: str | None = None,
) -> list[tuple[Case, Spell, list[CaseEvent]]]:
    """Every discharge spell the organisation may see that a period from `start` to `snapshot`
    can touch, with its facts derived from the events with clinical time up to the snapshot
    (and those events, oldest first); with `ward`, only those on that ward at the snapshot."""
    cases = DashboardRepository(session).discharge_cases_touching(
        start, snapshot, site, organisation
    )
    events = DischargeRepository(session).events_by_case(
        [c.id for c in cases], EVENTS_OF_INTEREST | EXTRACT_EVENTS | WARD_EVENTS | EDD_EVENTS
    )
    family = family_lookup(ctx.codes)
    out = []
    for case in cases:
        admitted = case.attributes.get("admitted_at")
        if admitted is None or datetime.fromisoformat(admitted) > snapshot:
            continue
        known = sorted(
            (e for e in events.get(case.id, []) if e.occurred_at <= snapshot),
            key=lambda e: e.seq,
        )
        on_ward = ward_at(known, snapshot)
        if ward is not None and on_ward != ward:
            continue
        facts = derive_facts([e for e in known if e.event in EVENTS_OF_INTEREST], family)
        edds = settings_of(known)
        spell = Spell(
            case.id,
            case.site,
            case.attributes.get("hospital_system"),
            datetime.fromisoformat(admitted),
            facts,
            on_ward,
            edd_at(edds, snapshot),
            first_edd(edds, snapshot),
        )
        out.append((case, spell, known))
    return out


def live_discharge(
    session: Session,
    *,
    day: date,
    site: str | None,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    ward: str | None = None,
) -> dict[str, Any]:
    day_start, day_end = day_bounds(day)
    agg = LiveRepository(session).aggregates(
        organisation=organisation,
        site=site,
        ward=ward,
        day=day,
        day_start=day_start,
        day_end=day_end,
        at=now,
        at_us=micros(now),
        family_precedence=ctx.discharge.primary_reason_family_precedence,
    )
    return assemble(agg, delay_labels(ctx.codes, day))


def check_live_figures(
    session: Session,
    *,
    site: str | None,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    ward: str | None = None,
) -> list[str]:
    """Today's figures from the projection against the plain derivation over the raw events:
    the paths (e.g. `by_site[0].inpatients`) where they differ; empty when they agree."""
    day = london_date(now)
    kwargs: dict[str, Any] = {
        "day": day,
        "site": site,
        "organisation": organisation,
        "now": now,
        "ward": ward,
    }
    live = live_discharge(session, ctx=ctx, **kwargs)
    plain = plain_discharge(session, ctx=ctx, **kwargs)
    return differences(plain, live)


def differences(expected: Any, got: Any, path: str = "") -> list[str]:
    if isinstance(expected, dict) and isinstance(got, dict):
        out = []
        for key in sorted(set(expected) | set(got), key=str):
            out += differences(
                expected.get(key), got.get(key), f"{path}.{key}" if path else str(key)
            )
        return out
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        return [
            d
            for i, (a, b) in enumerate(zip(expected, got, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    return (
        []
        if expected == got and type(expected) is type(got)
        else [f"{path}: {expected!r} != {got!r}"]
    )


def _ic(
    session: Session,
    ctx: MetricsContext,
    day: date,
    site: str | None,
    organisation: str,
    now: datetime,
) -> dict[str, Any]:
    """The day's intermediate-care figures (docs/domain.md §8.9); clock results as known now."""
    report = build_report(
        session,
        config=ctx.ic,
        outcomes=ctx.ic_outcomes,
        site=site,
        organisation=organisation,
        date_from=day,
        date_to=day,
        now=now,
    )
    figures = report.model_dump(mode="json", exclude={"as_of", "date_from", "date_to", "site"})
    return dict(figures)


def delay_labels(codes: CodeSetRegistry, day: date) -> dict[str, str | None]:
    try:
        return {e.code: e.label for e in codes.current(DELAY_LIST, day).codes}
    except CodeSetNotFound:
        return {}


def sites(session: Session, organisation: str, ward: str | None = None) -> list[str]:
    return DashboardRepository(session).discharge_sites(organisation, ward)


def wards(session: Session, organisation: str) -> list[str]:
    return DashboardRepository(session).discharge_wards(organisation)


def metrics_for(
    session: Session,
    *,
    day: date,
    site: str | None,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    live: LiveSource | None = None,
    at: time | None = None,
    ward: str | None = None,
    figures: snapshots.Figures = "as_reported",
) -> dict[str, Any]:
    """Stored figures for a finished day (as reported, or as restated after late entries:
    `figures`); today's computed ahead (`live`, for every ward) or now; with `at`, the
    position at that London time of the day, computed on request (never stored)."""
    if at is not None:
        computed = compute_metrics(
            session,
            day=day,
            site=site,
            organisation=organisation,
            now=now,
            ctx=ctx,
            at=at,
            ward=ward,
        )
        session.rollback()
        return computed
    if live is not None and ward is None and day == london_date(now):
        return live.figures(session, organisation, site, DAILY, now)
    return snapshots.metrics_for(
        session,
        day=day,
        site=site,
        ward=ward,
        organisation=organisation,
        now=now,
        ctx=ctx,
        compute=compute_metrics,
        figures=figures,
    )


def series(
    session: Session,
    *,
    first: date,
    last: date,
    site: str | None,
    organisation: str,
    now: datetime,
    ctx: MetricsContext,
    live: LiveSource | None = None,
    ward: str | None = None,
    figures: snapshots.Figures = "as_reported",
) -> list[dict[str, Any]]:
    """Headline figures for each day of a range, for trend charts; `restated` says which
    stored days late entries have changed since (their figures as `figures` chooses)."""
    if last < first or (last - first).days > MAX_SERIES_DAYS:
        raise ValidationFailed(f"choose up to {MAX_SERIES_DAYS + 1} days, 'from' before 'to'")
    if last > london_date(now):
        raise ValidationFailed("the range ends in the future")
    out = []
    day = first
    while day <= last:
        m = metrics_for(
            session,
            day=day,
            site=site,
            ward=ward,
            organisation=organisation,
            now=now,
            ctx=ctx,
            live=live,
            figures=figures,
        )
        d = m["discharge"]
        out.append(
            {
                "date": day.isoformat(),
                "final": m["final"],
                "stored": "stored_at" in m,
                "restated": m.get("restatement") is not None,
                **{k: d[k] for k in SERIES_FIELDS},
                "discharge_delayed_bed_days": d["discharge_delays"]["delayed_bed_days"],
            }
        )
        day += timedelta(days=1)
    return out


def store_day(
    session: Session, *, ctx: MetricsContext, day: date | None, now: datetime
) -> tuple[date, int]:
    """Snapshot a finished day (yesterday by default) for every site; returns (day, new rows)."""
    chosen = day or snapshots.yesterday(now)
    if snapshot_time(chosen, now) >= now:
        raise ValidationFailed(f"{chosen.isoformat()} is not over yet")
    new = snapshots.take_snapshots(
        session, day=chosen, now=now, ctx=ctx, compute_places=finished_day_figures
    )
    return chosen, new


def live_source(
    ctx: MetricsContext, engine: Engine, cfg: ChcConfig, freshness: Freshness
) -> LiveSource:
    """Today's figures for the live cache: discharge and IC per organisation and site, CHC per
    organisation."""

    def compute(
        session: Session, organisation: str, site: str | None, part: str, now: datetime
    ) -> dict[str, Any]:
        day = london_date(now)
        if part == DAILY:
            return compute_metrics(
                session, day=day, site=site, organisation=organisation, now=now, ctx=ctx
            )
        return chc_org_figures(
            session, engine=engine, cfg=cfg, organisation=organisation, day=day, now=now
        )

    return LiveSource(freshness, compute)
