"""`homefirst ledger restate`: the partner statements restated where late entries changed
their month (reading them does the same for the statements read)."""

from __future__ import annotations

import typer

ledger_cli = typer.Typer(help="The delay ledger's partner statements.", no_args_is_help=True)


@ledger_cli.command("restate")
def restate() -> None:
    """Derive every published statement's month again from the events and store, beside the
    original, the restatement of each whose figures changed."""
    from app.composition import build_engine
    from app.config import get_settings
    from app.dashboard.context import context_for
    from app.db import get_sessionmaker
    from app.ledger.config import load_ledger_config
    from app.ledger.statements import restate_all
    from app.timeutil import utcnow

    settings = get_settings()
    config = load_ledger_config(settings.pathways_dir / "config")
    with get_sessionmaker()() as session:
        ctx = context_for(settings, build_engine(settings).catalogue)
        checked, restated = restate_all(session, now=utcnow(), ctx=ctx, config=config)
    typer.echo(f"{checked} statement(s) derived again, {restated} restated")
