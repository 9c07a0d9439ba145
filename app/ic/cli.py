"""`homefirst ic services ...`: define IC services and change their capacity from the shell.

Changes act as a named user (`--user`, who needs the admin or manager role), so the audit says
who made them, exactly as over HTTP.
"""

from __future__ import annotations

from typing import Annotated

import typer

from app.auth.actor import Actor
from app.errors import DomainError

ic_cli = typer.Typer(help="Intermediate care services and capacity.", no_args_is_help=True)
services_cli = typer.Typer(help="IC services (teams and units).", no_args_is_help=True)
ic_cli.add_typer(services_cli, name="services")
UserOption = Annotated[str, typer.Option("--user", help="Act as this user (their roles and org)")]
ReasonOption = Annotated[str | None, typer.Option(help="Why, kept in the audit")]


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def _actor(username: str) -> Actor:
    from app.auth.service import AmbiguousUsername, find_user
    from app.db import get_sessionmaker
    from app.errors import NotFound

    try:
        with get_sessionmaker()() as session:
            user = find_user(session, username)
    except AmbiguousUsername as exc:
        raise _fail(str(exc)) from None
    except NotFound:
        user = None
    if user is None or not user.active:
        raise _fail(f"no active user {username!r} (add one with `homefirst users add`)")
    return Actor(user.id, user.username, user.organisation, frozenset(user.role_list))


@services_cli.command("add")
def services_add(
    code: str,
    name: Annotated[str, typer.Option(help="Display name")],
    site: Annotated[str, typer.Option(help="Site code")],
    model: Annotated[str, typer.Option(help="crisis_response, home_based_ic, reablement, ...")],
    capacity: Annotated[int, typer.Option(help="Beds (bed-based IC) or slots")],
    user: UserOption,
    reason: ReasonOption = None,
) -> None:
    """Define a service."""
    from pydantic import ValidationError

    from app.db import get_sessionmaker
    from app.ic.schemas import ServiceCreate
    from app.ic.service import create_service
    from app.timeutil import utcnow

    actor = _actor(user)
    try:
        body = ServiceCreate.model_validate(
            {"code": code, "name": name, "site": site, "model": model, "capacity": capacity}
            | {"reason": reason}
        )
        with get_sessionmaker()() as session:
            created = create_service(session, actor=actor, body=body, now=utcnow())
    except (DomainError, ValidationError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"added service {created.id} {created.code}: {created.capacity} {created.unit}")


@services_cli.command("set")
def services_set(
    service_id: int,
    user: UserOption,
    reason: Annotated[str, typer.Option(help="Why, kept in the audit")],
    capacity: Annotated[int | None, typer.Option()] = None,
    active: Annotated[bool | None, typer.Option("--active/--closed")] = None,
) -> None:
    """Change a service's capacity, or open or close it to new starts."""
    from pydantic import ValidationError

    from app.db import get_sessionmaker
    from app.ic.schemas import ServiceUpdate
    from app.ic.service import update_service
    from app.timeutil import utcnow

    actor = _actor(user)
    try:
        body = ServiceUpdate(capacity=capacity, active=active, reason=reason)
        with get_sessionmaker()() as session:
            read = update_service(
                session, actor=actor, service_id=service_id, body=body, now=utcnow()
            )
    except (DomainError, ValidationError) as exc:
        raise _fail(str(exc)) from None
    state = "open" if read.active else "closed"
    typer.echo(f"service {read.id} {read.code}: {read.capacity} {read.unit}, {state}")


@services_cli.command("list")
def services_list(site: Annotated[str | None, typer.Option()] = None) -> None:
    """Services with their occupancy."""
    from app.db import get_sessionmaker
    from app.ic.service import list_services

    with get_sessionmaker()() as session:
        # The server's own shell: every organisation's services.
        services = list_services(session, organisation=None, site=site, model=None, active=None)
    for s in services:
        flag = "" if s.active else "  (closed)"
        typer.echo(
            f"{s.id:>5} {s.code:16} {s.site:12} {s.model:16} "
            f"{s.occupied}/{s.capacity} {s.unit}{flag}"
        )
