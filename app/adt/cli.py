"""`homefirst adt ...`: the MLLP listener and the dead letters, on the server."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from app.adt.listener import MllpListener
from app.adt.repository import AdtRepository
from app.adt.service import build_adt_service
from app.config import get_settings
from app.db import make_engine, make_sessionmaker
from app.observability.logs import configure_logging
from app.timeutil import utcnow

adt_cli = typer.Typer(help="HL7 v2 ADT feed from the hospital's PAS.", no_args_is_help=True)


@adt_cli.command("listen")
def listen(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (MLLP); 0 picks a free one")] = 2575,
    migrate: Annotated[bool, typer.Option(help="Apply migrations first")] = True,
) -> None:
    """Receive ADT messages over MLLP until stopped (SIGTERM or Ctrl-C)."""
    from app.migrations_state import upgrade_to_head

    settings = get_settings()
    if migrate:
        upgrade_to_head(settings.database_url)
    configure_logging(settings.log_level, settings.log_file)  # JSON lines, as the service's
    service = build_adt_service(settings, ctx.obj.writer())
    if not service.interfaces.interfaces:
        raise typer.Exit(_say("no interfaces in adt-interfaces.yaml: nothing may send", 1))
    sessions = make_sessionmaker(
        make_engine(settings.database_url, pooler=settings.database_pooler)
    )
    with sessions() as session:  # create each interface's system user before the first message
        for interface in service.interfaces.interfaces:
            service.actor_for(session, interface)
    listener = MllpListener(service, sessions, utcnow)

    def ready(bound: int) -> None:
        keys = ", ".join(i.key for i in service.interfaces.interfaces)
        typer.echo(f"HomeFirst ADT listener on {host}:{bound} (MLLP), interfaces: {keys}")

    asyncio.run(listener.serve(host, port, ready))


@adt_cli.command("dead-letters")
def dead_letters(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Refused messages waiting for a person (every organisation), newest first."""
    settings = get_settings()
    sessions = make_sessionmaker(
        make_engine(settings.database_url, pooler=settings.database_pooler)
    )
    with sessions() as session:
        rows = AdtRepository(session).dead_letters(organisation=None, before_id=None, limit=limit)
    for row in rows:
        typer.echo(
            f"{row.id}\t{row.received_at:%Y-%m-%d %H:%M}\t{row.sender}\t{row.control_id}\t"
            f"{row.message_type}\t{row.ack_code}\t{row.error_code}\t{row.error_text}"
        )
    if not rows:
        typer.echo("no dead letters")


def _say(message: str, code: int) -> int:
    typer.echo(message, err=True)
    return code


@adt_cli.command("sample-day")
def sample_day_command(
    demo_patient: Annotated[
        bool, typer.Option(help="Include the message that moves a demo patient")
    ] = True,
) -> None:
    """Print a sample ward day of ADT messages (one per paragraph), for
    `mllp_send --loose --file FILE --port 2575 127.0.0.1`."""
    from app.adt.sample import sample_day

    for message in sample_day(utcnow(), demo_patient=demo_patient):
        typer.echo(message.replace("\r", "\n") + "\n")
