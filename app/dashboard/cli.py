"""`homefirst metrics snapshot|rebuild|check`: stored days, the live projection and its check."""

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
    from app.config import get_settings
    from app.dashboard.context import context_for
    from app.dashboard.service import store_day
    from app.db import get_sessionmaker
    from app.main import build_engine
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


@metrics_cli.command("rebuild")
def rebuild() -> None:
    """Derive the discharge spell projection again from the case events (after a bulk load
    that bypassed the service, or a change of the delay code lists)."""
    from app.db import UnitOfWork, get_sessionmaker
    from app.discharge.projection import rebuild_default

    with get_sessionmaker()() as session, UnitOfWork(session):
        written = rebuild_default(session)
    typer.echo(f"{written} discharge spell(s) derived from their events")


@metrics_cli.command("check")
def check(
    organisation: Annotated[str, typer.Option("--org", help="The organisation whose figures")],
    site: Annotated[str | None, typer.Option("--site", help="One site; all if omitted")] = None,
) -> None:
    """Compare today's figures from the projection with the plain derivation over the raw
    events; exit 1 and list the differences if they disagree."""
    from app.config import get_settings
    from app.dashboard.context import context_for
    from app.dashboard.service import check_live_figures
    from app.db import get_sessionmaker
    from app.main import build_engine
    from app.timeutil import utcnow

    settings = get_settings()
    ctx = context_for(settings, build_engine(settings).catalogue)
    with get_sessionmaker()() as session:
        found = check_live_figures(
            session, site=site, organisation=organisation, now=utcnow(), ctx=ctx
        )
    for line in found:
        typer.echo(line)
    if found:
        raise typer.Exit(code=1)
    typer.echo("today's figures from the projection equal the plain derivation")
