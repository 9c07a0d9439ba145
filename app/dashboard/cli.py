"""`homefirst metrics snapshot|restate|rebuild|check`: stored days, their restatements, the read
models and their checks."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

metrics_cli = typer.Typer(help="Daily delay metrics.", no_args_is_help=True)


@metrics_cli.command("snapshot")
def snapshot(
    day: Annotated[
        str | None, typer.Option("--date", help="London date; yesterday if omitted")
    ] = None,
) -> None:
    """Store the day's figures for every site and for all sites together (once; safe to rerun)."""
    from app.composition import build_engine
    from app.config import get_settings
    from app.dashboard.context import context_for
    from app.dashboard.service import store_day
    from app.db import get_sessionmaker
    from app.timeutil import utcnow

    settings = get_settings()
    try:
        chosen = date.fromisoformat(day) if day else None
    except ValueError:
        typer.secho(f"not a date (YYYY-MM-DD): {day}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    with get_sessionmaker()() as session:
        ctx = context_for(settings, build_engine(settings).catalogue)
        stored_day, new = store_day(session, ctx=ctx, day=chosen, now=utcnow())
    typer.echo(f"{stored_day.isoformat()}: {new} snapshot(s) stored")


@metrics_cli.command("restate")
def restate_days() -> None:
    """Compute again the stored days that entries recorded late may have changed, and store
    the figures that differ beside the originals (the background worker does this after each
    clock sweep)."""
    from app.composition import build_engine
    from app.config import get_settings
    from app.dashboard.context import context_for
    from app.dashboard.restatements import restate
    from app.db import get_sessionmaker
    from app.timeutil import utcnow

    settings = get_settings()
    with get_sessionmaker()() as session:
        ctx = context_for(settings, build_engine(settings).catalogue)
        done = restate(session, ctx=ctx, now=utcnow())
    if not done.marks:
        typer.echo("no late entries waiting: nothing to restate")
        return
    typer.echo(
        f"{done.marks} late entr(ies) from {done.first_day}: {done.checked} stored day(s) "
        f"computed again, {done.restated} restated"
    )


ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model", help="One read model: discharge_spells, chc_work_items or ic_placements"
    ),
]


@metrics_cli.command("rebuild")
def rebuild(model: ModelOption = None) -> None:
    """Derive the read models (or one) again from the case events: after a bulk load that
    bypassed the service, or a change of the delay code lists."""
    from app.composition import build_parts
    from app.config import get_settings
    from app.db import UnitOfWork, get_sessionmaker
    from app.timeutil import utcnow

    registry = build_parts(get_settings()).writer.read_models
    names = _chosen(registry.names(), model)
    for name in names:
        with get_sessionmaker()() as session, UnitOfWork(session):
            written = registry.get(name).rebuild(session, now=utcnow())
        typer.echo(f"{name}: {written} row(s) derived from their events")


@metrics_cli.command("check")
def check(
    organisation: Annotated[
        str | None, typer.Option("--org", help="Also compare this organisation's figures")
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="One site; all if omitted")] = None,
    ward: Annotated[str | None, typer.Option("--ward", help="One ward; all if omitted")] = None,
    model: ModelOption = None,
) -> None:
    """Compare every read model (or one) with the plain derivation from the events, and with
    --org today's figures from the read models with the plain derivation over the raw events;
    exit 1 and list the differences if any disagree."""
    from app.composition import build_parts
    from app.config import get_settings
    from app.dashboard.context import context_for
    from app.dashboard.service import check_live_figures
    from app.db import get_sessionmaker
    from app.timeutil import utcnow

    settings = get_settings()
    parts = build_parts(settings)
    registry = parts.writer.read_models
    now = utcnow()
    found: list[str] = []
    for name in _chosen(registry.names(), model):
        with get_sessionmaker()() as session:
            differences = registry.get(name).check(session, now=now)
        found += differences
        typer.echo(f"{name}: {len(differences)} difference(s)")
    if organisation is not None:
        ctx = context_for(settings, parts.engine.catalogue)
        with get_sessionmaker()() as session:
            found += check_live_figures(
                session, site=site, ward=ward, organisation=organisation, now=now, ctx=ctx
            )
    for line in found:
        typer.echo(line)
    if found:
        raise typer.Exit(code=1)
    typer.echo("the read models (and figures) equal the plain derivation")


def _chosen(names: list[str], model: str | None) -> list[str]:
    if model is None:
        return names
    if model not in names:
        typer.secho(f"no read model {model!r}; known: {', '.join(names)}", fg=typer.colors.RED)
        raise typer.Exit(code=2)
    return [model]
