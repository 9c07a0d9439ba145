"""The `homefirst` command line: pathways, users, tokens, clocks, database, demo, serve."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from app.adt.cli import adt_cli
from app.cases.transition import CaseWriter
from app.composition import workflows
from app.config import get_settings
from app.dashboard.cli import metrics_cli
from app.engine.catalogue import PathwayCatalogue
from app.errors import DomainError
from app.ledger.cli import ledger_cli
from app.observability.logs import configure_logging, logging_config

cli = typer.Typer(help="HomeFirst workflow service.", no_args_is_help=True)


class _Commands:
    """The `CommandPort` the workflows' commands use (built on first use)."""

    def writer(self) -> CaseWriter:
        from app.composition import build_parts

        return build_parts(get_settings()).writer

    def catalogue(self, pathways_dir: Path) -> PathwayCatalogue:
        from app.composition import build_catalogue

        return build_catalogue(workflows(), pathways_dir)


@cli.callback()
def _root(ctx: typer.Context) -> None:
    ctx.obj = _Commands()


pathways_cli = typer.Typer(help="Check pathway files.", no_args_is_help=True)
users_cli = typer.Typer(help="Manage users.", no_args_is_help=True)
tokens_cli = typer.Typer(help="Issue and revoke bearer tokens.", no_args_is_help=True)
clocks_cli = typer.Typer(help="SLA clocks.", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_cli = typer.Typer(help="Demo data.", no_args_is_help=True)
for name, sub in (
    ("pathways", pathways_cli),
    ("users", users_cli),
    ("tokens", tokens_cli),
    ("clocks", clocks_cli),
    ("db", db_cli),
    ("demo", demo_cli),
):
    cli.add_typer(sub, name=name)
cli.add_typer(metrics_cli, name="metrics")
# The delay ledger's partner statements.
cli.add_typer(ledger_cli, name="ledger")
# The hospital's PAS feed (HL7 v2 ADT over MLLP).
cli.add_typer(adt_cli, name="adt")
# Each registered workflow's own commands (`homefirst chc ...`, `homefirst ic ...`).
for _workflow in workflows():
    for name, sub in _workflow.cli:
        cli.add_typer(sub, name=name)


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


@pathways_cli.command("check")
def pathways_check(directory: Annotated[Path | None, typer.Option("--dir")] = None) -> None:
    """Load and check every pathway file and every workflow's configuration files; exit 1
    naming the file and problem on error."""
    from app.adt.config import load_adt_interfaces
    from app.auth.access import load_access
    from app.composition import build_catalogue
    from app.configfiles import ConfigFileError
    from app.engine.loader import PathwayError
    from app.forecast.config import load_forecast_config
    from app.ledger.config import load_ledger_config
    from app.pathway_fit.config import load_pathway_fit_config
    from app.quality.config import load_quality_config
    from app.whatif.config import load_whatif_config

    pathways_dir = directory or get_settings().pathways_dir
    registered = workflows()
    try:
        catalogue = build_catalogue(registered, pathways_dir)
        registered.load_configs(pathways_dir / "config")
        load_access(pathways_dir / "config")
        load_adt_interfaces(pathways_dir / "config")
        load_quality_config(pathways_dir / "config")
        load_ledger_config(pathways_dir / "config")
        load_forecast_config(pathways_dir / "config")
        load_pathway_fit_config(pathways_dir / "config")
        load_whatif_config(pathways_dir / "config")
    except (PathwayError, ConfigFileError) as exc:
        raise _fail(f"pathway check failed: {exc}") from None
    for p in catalogue.all():
        typer.echo(
            f"ok  {p.spec.key} v{p.spec.version}  {len(p.spec.states)} states, "
            f"{len(p.spec.transitions)} transitions, {len(p.spec.clocks)} clocks  ({p.source.name})"
        )


@users_cli.command("add")
def users_add(
    username: str,
    organisation: Annotated[str, typer.Option("--org", help="Organisation code")],
    roles: Annotated[str, typer.Option(help="Comma-separated roles")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    allow_internal_roles: Annotated[
        bool,
        typer.Option(
            "--allow-internal-roles",
            help="Allow internal roles (system): for a service account, never a person",
        ),
    ] = False,
) -> None:
    """Add a user with roles and an organisation (usernames are unique per organisation)."""
    from app.auth.service import add_user
    from app.db import get_sessionmaker

    role_list = [r.strip() for r in roles.split(",") if r.strip()]
    try:
        with get_sessionmaker()() as session:
            user = add_user(
                session,
                username=username,
                display_name=name or username,
                organisation=organisation,
                roles=role_list,
                allow_internal_roles=allow_internal_roles,
            )
    except DomainError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"added {user.username} ({user.organisation}): {user.roles}")


@users_cli.command("list")
def users_list() -> None:
    """List users."""
    from app.auth.repository import AuthRepository
    from app.db import get_sessionmaker

    with get_sessionmaker()() as session:
        for user in AuthRepository(session).users():
            flag = "" if user.active else "  (inactive)"
            typer.echo(f"{user.username:24} {user.organisation:16} {user.roles}{flag}")


@users_cli.command("set-password")
def users_set_password(
    username: str,
    organisation: Annotated[
        str | None,
        typer.Option("--org", help="The user's organisation (needed when the name is in several)"),
    ] = None,
) -> None:
    """Issue a new random password, printed once (only its hash is stored). The person must
    change it at their next sign-in; it unlocks the account and signs them out everywhere."""
    from app.auth.passwords import issue_password
    from app.auth.service import find_user
    from app.db import get_sessionmaker
    from app.timeutil import utcnow

    try:
        with get_sessionmaker()() as session:
            user = find_user(session, username, organisation)
            org = user.organisation
            session.rollback()
            issued = issue_password(
                session, organisation=org, username=username, set_by=None, now=utcnow()
            )
    except DomainError as exc:
        raise _fail(str(exc)) from None
    typer.echo(issued.password)
    typer.echo(
        f"(password for {issued.username} of {issued.organisation}; shown once: give it to "
        "them now. They must change it at their next sign-in)",
        err=True,
    )


@tokens_cli.command("create")
def tokens_create(
    username: str,
    organisation: Annotated[
        str | None,
        typer.Option("--org", help="The user's organisation (needed when the name is in several)"),
    ] = None,
    label: Annotated[str, typer.Option()] = "",
    expires_days: Annotated[int | None, typer.Option(help="Days until expiry")] = None,
) -> None:
    """Issue a token. It is printed once and stored only as a hash."""
    from app.auth.service import create_token
    from app.db import get_sessionmaker

    try:
        with get_sessionmaker()() as session:
            issued = create_token(
                session,
                username=username,
                organisation=organisation,
                label=label,
                expires_in=timedelta(days=expires_days) if expires_days else None,
            )
    except DomainError as exc:
        raise _fail(str(exc)) from None
    typer.echo(issued.token)
    typer.echo(f"(prefix {issued.prefix}; shown once: store it now)", err=True)


@tokens_cli.command("revoke")
def tokens_revoke(prefix: str) -> None:
    """Revoke every token with this prefix (the first 10 characters)."""
    from app.auth.service import revoke_tokens
    from app.db import get_sessionmaker

    with get_sessionmaker()() as session:
        count = revoke_tokens(session, prefix=prefix)
    if count == 0:
        raise _fail(f"no token with prefix {prefix!r}")
    typer.echo(f"revoked {count} token(s)")


@tokens_cli.command("rotate")
def tokens_rotate(
    prefix: str,
    expires_days: Annotated[
        int | None, typer.Option(help="Days until the new token expires; default: as the old")
    ] = None,
) -> None:
    """Issue a new token in place of the one with this prefix, which is revoked at once."""
    from app.auth.service import rotate_token
    from app.db import get_sessionmaker

    try:
        with get_sessionmaker()() as session:
            issued, old = rotate_token(
                session,
                prefix=prefix,
                expires_in=timedelta(days=expires_days) if expires_days else None,
            )
    except DomainError as exc:
        raise _fail(str(exc)) from None
    typer.echo(issued.token)
    typer.echo(f"(prefix {issued.prefix}, replaces {old}, now revoked; shown once)", err=True)


@clocks_cli.command("sweep")
def clocks_sweep(
    now: Annotated[datetime | None, typer.Option(help="Sweep as of this UTC time")] = None,
) -> None:
    """Record due warnings and breaches, and tell the owners of actions gone past their due
    time (each exactly once, safe to run from several hosts)."""
    from app.actions.overdue import sweep_overdue
    from app.clocks.sweeper import sweep
    from app.db import get_sessionmaker
    from app.timeutil import utcnow

    # A time given without an offset is read as UTC, as the option's help says.
    at = (now if now.tzinfo else now.replace(tzinfo=UTC)) if now else utcnow()
    report = sweep(get_sessionmaker(), now=at)
    late = sweep_overdue(get_sessionmaker(), now=at)
    typer.echo(
        f"warnings: {report.warnings}  breaches: {report.breaches}  actions overdue: {late.alerted}"
    )


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations up to head."""
    _upgrade(get_settings().database_url)
    typer.echo("database at head")


def _upgrade(database_url: str) -> None:
    """`alembic upgrade head`; a missing alembic.ini (the wrong directory) is a message."""
    from app.migrations_state import upgrade_to_head

    try:
        upgrade_to_head(database_url)
    except FileNotFoundError as exc:
        raise _fail(str(exc)) from None


@demo_cli.command("load")
def demo_load() -> None:
    """Create demo users and cases (once) and print a fresh demo token."""
    _print_demo(_load_demo())


def _load_demo() -> object:
    from app.chc.config import chc_config
    from app.composition import build_parts
    from app.db import get_sessionmaker
    from app.demo import load_demo

    settings = get_settings()
    parts = build_parts(settings)
    return load_demo(
        get_sessionmaker(),
        parts.writer,
        parts.workflows,
        chc_cfg=chc_config(settings.pathways_dir / "config"),
    )


def _print_demo(result: object) -> None:
    from app.demo import DEMO_ORG, DemoResult

    assert isinstance(result, DemoResult)  # noqa: S101
    typer.echo(f"demo cases created: {result.cases_created}")
    typer.secho(
        f"demo token (user {result.token.username}): {result.token.token}", fg=typer.colors.GREEN
    )
    typer.echo(f"demo sign-in at / (organisation {result.organisation}), passwords shown once:")
    for person in result.people:
        typer.secho(
            f"  {person.username:<10} {person.password}   ({', '.join(person.roles)})"
            + (f", organisation {person.organisation}" if person.organisation != DEMO_ORG else ""),
            fg=typer.colors.GREEN,
        )


@cli.command("serve")
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option()] = 1,
    demo: Annotated[bool, typer.Option(help="Load demo data and print a token")] = False,
    migrate: Annotated[bool, typer.Option(help="Apply migrations first")] = True,
    background: Annotated[
        bool,
        typer.Option(
            help="Run the background jobs (clock sweeper, figures refresher, CHC imports) in "
            "the service; --no-background leaves them to `homefirst worker`"
        ),
    ] = True,
) -> None:
    """Start the HTTP service (migrations first; demo data with --demo)."""
    import uvicorn

    if not background:
        # Read by every worker process uvicorn starts (and by this one, read afresh).
        os.environ.update(dict.fromkeys(BACKGROUND_SETTINGS, "0"))
        get_settings.cache_clear()

    if demo and background and "NOTIFICATION_POLL_SECONDS" not in os.environ:
        # The demo delivers notifications (inboxes, "an action is overdue") as a deployment
        # would; the setting's default leaves the job off for a service that has not chosen.
        os.environ["NOTIFICATION_POLL_SECONDS"] = "5"
        get_settings.cache_clear()
    if migrate:
        _upgrade(get_settings().database_url)
    if demo:
        _print_demo(_load_demo())
    typer.echo(f"HomeFirst on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    settings = get_settings()
    # No `Server: uvicorn` header: nothing to tell a scanner which server to look up. Logs are
    # JSON lines (each worker configures them from `log_config`); the service logs each request
    # itself (app/observability/requests.py), so uvicorn's access log is off.
    uvicorn.run(
        "app.asgi:application",
        host=host,
        port=port,
        workers=workers,
        server_header=False,
        access_log=False,
        log_config=logging_config(settings.log_level, settings.log_file),
    )


# The settings that turn each background job off when 0 (app/worker.py).
BACKGROUND_SETTINGS = (
    "CLOCK_SWEEP_INTERVAL_SECONDS",
    "LIVE_FIGURES_REFRESH_SECONDS",
    "CHC_IMPORT_POLL_SECONDS",
    "NOTIFICATION_POLL_SECONDS",
    "WHATIF_POLL_SECONDS",
)


@cli.command("worker")
def worker() -> None:
    """Run the background jobs until stopped (SIGTERM or Ctrl-C): the clock sweeper with the
    daily snapshots, the figures refresher, the CHC import runner and the what-if runs, as the
    settings turn them on. Beside `homefirst serve --no-background`; several may run on one
    PostgreSQL database."""
    import signal
    import threading

    from app.worker import Background, background_parts

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_file)
    jobs = Background(background_parts(settings))
    if not jobs.jobs():
        typer.echo("no background job is turned on (see README, Configuration)", err=True)
        raise typer.Exit(1)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    jobs.start()
    typer.echo(f"HomeFirst worker: {', '.join(jobs.jobs())}")
    while not stopping.wait(1):  # a short wait: the signal handler runs between waits
        pass
    jobs.stop()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
