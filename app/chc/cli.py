"""`homefirst chc ...`: import backlog lists, refresh ratings, show panels, check configuration.

Commands that change data act as a named user (`--user`), so every event and audit row says
who did it, in which role, for which organisation, exactly as over HTTP.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from app.auth.actor import Actor
from app.chc.config import ChcConfig, chc_config
from app.workflows.contract import CommandPort

chc_cli = typer.Typer(help="NHS Continuing Healthcare working list.", no_args_is_help=True)
UserOption = Annotated[str, typer.Option("--user", help="Act as this user (their roles and org)")]


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


def _config() -> ChcConfig:
    from app.config import get_settings

    return chc_config(get_settings().pathways_dir / "config")


@chc_cli.command("import")
def import_list(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    source: Annotated[str, typer.Option(help="Source list name, e.g. MLCSU, LSCFT, 'Sefton MBC'")],
    user: UserOption,
    encoding: Annotated[
        str | None, typer.Option(help="The file's encoding, if not UTF-8 (e.g. windows-1252)")
    ] = None,
) -> None:
    """Import one backlog list (CSV: UTF-8, UTF-8 with BOM or Windows-1252) with a progress bar:
    the same job an upload makes, run here and now."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from app.chc.import_runner import Runner, run_pending_imports, wait_until_finished
    from app.chc.importer import submit
    from app.db import get_sessionmaker
    from app.errors import DomainError
    from app.timeutil import utcnow

    actor = _actor(user)
    commands: CommandPort = ctx.obj
    sessions = get_sessionmaker()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, transient=True) as bar, sessions() as session, file.open("rb") as f:
        task = bar.add_task(f"importing {file.name}", total=None)
        try:
            outcome = submit(
                session,
                cfg=_config(),
                actor=actor,
                source=source,
                filename=file.name,
                file=f,
                declared_encoding=encoding,
                now=utcnow(),
            )
        except DomainError as exc:
            raise _fail(f"import refused: {exc.detail}") from None
        if outcome.status_code == 202:
            runner = Runner(
                sessions,
                commands.writer(),
                _config(),
                after_batch=lambda job: bar.update(
                    task, completed=job.rows_read, total=job.rows_total
                ),
            )
            run_pending_imports(runner, only=outcome.import_id)
            # A running service may have taken the job first: it is reported once finished.
            wait_until_finished(
                sessions,
                [outcome.import_id],
                on_progress=lambda job: bar.update(
                    task, completed=job.rows_read, total=job.rows_total
                ),
            )
    _print_job(sessions, outcome.import_id, again=outcome.status_code == 200)


def _print_job(sessions: Any, import_id: int, *, again: bool) -> None:
    from app.chc.importer import iter_report, job_status
    from app.chc.repository import ChcRepository

    with sessions() as session:
        job = ChcRepository(session).refresh_job(import_id)
    assert job is not None  # noqa: S101 - just submitted
    body = job_status(job)
    if again:
        typer.echo(f"already imported (import {import_id}); nothing changed")
    typer.echo(
        f"import {import_id} {body['source']} ({body['encoding']}): "
        + ", ".join(f"{k} {v}" for k, v in body["counts"].items())
        + ("" if body["state"] == "done" else f" [{body['state']}]")
    )
    if body["error"]:
        typer.echo(f"  {body['error']}")
    for row in iter_report(sessions, import_id, "rejected"):
        typer.echo(f"  rejected row {row['row']}: {'; '.join(row['reasons'])}")
    for row in iter_report(sessions, import_id, "conflicts"):
        fields = ", ".join(
            f"{f['field']} {f['current']!r} vs {f['incoming']!r}" for f in row["fields"]
        )
        typer.echo(f"  conflict row {row['row']} (case {row['case_id']}): {fields}")


@chc_cli.command("run-imports")
def run_imports(
    ctx: typer.Context,
    retry: Annotated[
        int | None, typer.Option(help="Queue this failed import again first (from its checkpoint)")
    ] = None,
) -> None:
    """Run every queued import job (cron it when the service's own runner is off)."""
    from app.chc.import_runner import Runner, requeue, run_pending_imports
    from app.db import get_sessionmaker

    commands: CommandPort = ctx.obj
    sessions = get_sessionmaker()
    if retry is not None and not requeue(sessions, retry):
        raise _fail(f"import {retry} is not a failed import")
    worked = run_pending_imports(Runner(sessions, commands.writer(), _config()))
    typer.echo(f"import jobs run: {worked}")


@chc_cli.command("refresh")
def refresh_ratings(
    organisation: Annotated[
        str | None, typer.Option("--org", help="Only this organisation")
    ] = None,
) -> None:
    """Re-rate every open CHC case (cron it daily so ratings follow the passing of time)."""
    from app.chc.repository import ChcRepository
    from app.chc.worklist import refresh
    from app.db import UnitOfWork, get_sessionmaker
    from app.timeutil import utcnow

    with get_sessionmaker()() as session, UnitOfWork(session):
        report = refresh(ChcRepository(session), _config(), organisation=organisation, now=utcnow())
    typer.echo(
        f"examined {report.examined}, new {report.created}, re-rated {report.rerated}, "
        f"updated {report.updated}"
    )


@chc_cli.command("panel")
def panel(
    user: UserOption,
    day: Annotated[str | None, typer.Argument(help="YYYY-MM-DD; omit for upcoming panels")] = None,
) -> None:
    """Upcoming panel dates, or one panel's agenda."""
    from app.chc.panels import panel_agenda, upcoming_panels
    from app.db import get_sessionmaker
    from app.errors import DomainError
    from app.timeutil import LONDON, utcnow

    actor = _actor(user)
    with get_sessionmaker()() as session:
        try:
            if day is None:
                today = utcnow().astimezone(LONDON).date()
                listing = upcoming_panels(session, cfg=_config(), actor=actor, start=today, count=6)
                for slot in listing.panels:
                    typer.echo(f"{slot.date}  {slot.cases} case(s)")
                return
            agenda = panel_agenda(session, cfg=_config(), actor=actor, day=date.fromisoformat(day))
        except (DomainError, ValueError) as exc:
            raise _fail(str(exc)) from None
    typer.echo(f"panel {agenda.date}: {agenda.count} case(s)")
    for item in agenda.agenda:
        dst = item.dst.summary if item.dst else "DST not recorded"
        typer.echo(f"  case {item.case_id} {item.state} {item.rag or '-'}: {dst}")


@chc_cli.command("check")
def check(ctx: typer.Context) -> None:
    """Validate the CHC configuration and its agreement with pathways/chc.yaml."""
    from app.chc.config import ChcConfigError
    from app.chc.consistency import consistency_problems
    from app.config import get_settings
    from app.engine.loader import PathwayError

    settings = get_settings()
    commands: CommandPort = ctx.obj
    try:
        cfg = _config()
        catalogue = commands.catalogue(settings.pathways_dir)
    except (ChcConfigError, PathwayError) as exc:
        raise _fail(f"CHC check failed: {exc}") from None
    loaded = catalogue.latest("chc")
    if loaded is None:
        raise _fail("CHC check failed: no chc pathway is loaded")
    problems = consistency_problems(cfg, loaded.spec)
    if problems:
        raise _fail("CHC check failed: " + "; ".join(problems))
    statuses = f"tools {cfg.tools.status}, RAG {cfg.rag.status}, local {cfg.local.status}"
    typer.echo(f"ok  CHC configuration ({statuses}) agrees with chc v{loaded.spec.version}")
