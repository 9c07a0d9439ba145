"""`homefirst metrics snapshot`: store a finished day's figures (yesterday by default)."""

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
