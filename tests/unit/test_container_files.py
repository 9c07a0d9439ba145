"""The container files (issue 18, item 5), read as Docker and Compose would read them.

No Docker engine runs here, so nothing is built: the Dockerfile's stages and instructions, the
.dockerignore and compose.yaml are read and checked against the code. Every `homefirst` command
they run is parsed by the real command line (click, under typer), so an option that does not
exist fails here; the image's HEALTHCHECK command is run against the real service.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
from typing import Any

import pytest
import typer
import typer.core
import yaml

from app.cli import cli
from tests.servers import PROJECT_ROOT, free_port

DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def stages() -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for instruction, args in instructions():
        if instruction == "FROM":
            base, _, name = args.partition(" AS ")
            assert name, f"every stage is named: FROM {args}"
            current = found.setdefault(name.strip(), [])
            current.append((instruction, base.strip()))
        else:
            current.append((instruction, args))
    return found


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), args
    return [str(v) for v in value]


def parse_homefirst(argv: list[str]) -> Any:
    """`homefirst ...` parsed by the real command line (typer's click) down to its command,
    without running it: its context, whose `params` are the parsed options. An unknown command
    fails an assertion; an unknown option or a bad value raises click's usage error."""
    assert argv[0] == "homefirst", argv
    command: Any = typer.main.get_command(cli)
    args = argv[1:]
    while isinstance(command, typer.core.TyperGroup):
        sub = command.get_command(None, args[0])
        assert sub is not None, f"no command {args[0]!r} in {argv}"
        command, args = sub, args[1:]
    return command.make_context(" ".join(argv), list(args))


def test_the_image_is_built_in_one_stage_and_run_from_another() -> None:
    build, runtime = stages()["build"], stages()["runtime"]
    assert list(stages()) == ["build", "runtime"]
    assert build[0][1] == runtime[0][1] == "python:3.11-slim"
    build_runs = " ".join(args for op, args in build if op == "RUN")
    # The lock's versions, the project's wheel, no editable install.
    assert "-c requirements.lock" in build_runs
    assert "pip wheel --no-deps ." in build_runs
    assert "/dist/homefirst-*.whl" in build_runs
    assert not re.search(r"pip install[^&]*\s-e\s", DOCKERFILE)
    copies = [args for op, args in runtime if op == "COPY"]
    assert "--from=build /opt/homefirst /opt/homefirst" in copies
    assert all(shlex.split(c)[0] != "app" for c in copies)  # the code is in the wheel only


def test_the_runtime_runs_as_a_user_from_the_files_the_service_reads() -> None:
    runtime = dict(stages()["runtime"][1:])  # the last of each instruction
    assert runtime["USER"] not in ("root", "0")
    env = " ".join(args for op, args in stages()["runtime"] if op == "ENV")
    workdir = runtime["WORKDIR"]
    assert f"HOMEFIRST_ROOT={workdir}" in env
    assert "PATH=/opt/homefirst/bin:$PATH" in env
    copied = {shlex.split(args)[-1] for op, args in stages()["runtime"] if op == "COPY"}
    assert {"./", "./migrations", "./pathways"} <= copied
    assert "COPY alembic.ini ./" in DOCKERFILE
    assert runtime["EXPOSE"].split() == ["8000", "2575"]
    parse_homefirst(exec_form(runtime["CMD"]))


def healthcheck_code(instruction: str) -> str:
    """The Python the HEALTHCHECK runs (`python -c ...`)."""
    argv = exec_form(instruction[instruction.index("CMD") + 3 :].strip())
    assert argv[:2] == ["python", "-c"], argv
    return argv[2]


def run_check(code: str, base_url: str) -> int:
    code = code.replace("http://127.0.0.1:8000", base_url)
    done = subprocess.run(  # noqa: S603 - our own interpreter and the Dockerfile's code
        [sys.executable, "-c", code], capture_output=True, timeout=30, check=False
    )
    return done.returncode


def test_the_healthcheck_passes_on_the_service_and_fails_without_it(live_server: str) -> None:
    (instruction,) = [args for op, args in stages()["runtime"] if op == "HEALTHCHECK"]
    code = healthcheck_code(instruction)
    assert "http://127.0.0.1:8000/healthz" in code
    assert run_check(code, live_server) == 0
    assert run_check(code, f"http://127.0.0.1:{free_port()}") != 0
    compose_check = SERVICES["web"]["healthcheck"]["test"]
    assert compose_check[:3] == ["CMD", "python", "-c"]
    assert "http://127.0.0.1:8000/readyz" in compose_check[3]
    assert run_check(compose_check[3], live_server) == 0


def test_the_build_context_leaves_out_what_the_image_never_needs() -> None:
    ignored = [
        line.strip()
        for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for name in (".venv", ".git", "var", "tests", "bench", ".pytest_cache", ".env"):
        assert name in ignored, name
    sources: set[str] = set()
    for op, args in stages()["build"] + stages()["runtime"]:
        if op == "COPY" and not args.startswith("--from"):
            sources.update(shlex.split(args)[:-1])
    assert sources == {
        "pyproject.toml",
        "requirements.lock",
        "README.md",
        "app",
        "alembic.ini",
        "migrations",
        "pathways",
    }
    for source in sources:
        assert (PROJECT_ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_compose_runs_postgres_then_migrations_then_web_and_worker() -> None:
    assert set(SERVICES) == {"db", "migrate", "web", "worker", "adt"}
    db = SERVICES["db"]
    assert db["image"] == "postgres:15"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert db["volumes"] == ["pgdata:/var/lib/postgresql/data"]
    assert "pgdata" in COMPOSE["volumes"]
    assert SERVICES["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("web", "worker", "adt"):
        assert SERVICES[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }, name
    assert SERVICES["adt"]["profiles"] == ["adt"]  # only when asked for


@pytest.mark.parametrize(
    ("service", "command", "params"),
    [
        ("migrate", ["db", "upgrade"], {}),
        (
            "web",
            ["serve"],
            {"workers": 2, "migrate": False, "background": False, "host": "0.0.0.0"},  # noqa: S104,
        ),
        ("worker", ["worker"], {}),
        ("adt", ["adt", "listen"], {"migrate": False, "port": 2575}),
    ],
)
def test_each_service_runs_a_real_command(
    service: str, command: list[str], params: dict[str, Any]
) -> None:
    argv = SERVICES[service]["command"]
    assert argv[1 : 1 + len(command)] == command
    parsed = parse_homefirst([str(a) for a in argv])
    assert {k: parsed.params[k] for k in params} == params


def test_every_homefirst_container_reaches_postgres_with_secrets_from_the_environment() -> None:
    for name in ("migrate", "web", "worker", "adt"):
        service = SERVICES[name]
        assert service["image"] == "homefirst:local"
        url = service["environment"]["DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://homefirst:${POSTGRES_PASSWORD:?"), url
        assert url.endswith("@db:5432/homefirst"), url
        if name != "web":  # the one HTTP service keeps the image's check
            assert service["healthcheck"] == {"disable": True}, name
    assert SERVICES["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert SERVICES["web"]["environment"]["PROMETHEUS_MULTIPROC_DIR"] in SERVICES["web"]["tmpfs"]


def test_a_command_the_cli_does_not_have_is_refused() -> None:
    """The check above can fail: an option that does not exist is a usage error."""
    with pytest.raises(Exception, match="No such option: --no-such-option"):
        parse_homefirst(["homefirst", "serve", "--no-such-option"])
    with pytest.raises(Exception, match="valid integer"):
        parse_homefirst(["homefirst", "serve", "--workers", "two"])
    with pytest.raises(AssertionError):
        parse_homefirst(["homefirst", "no-such-command"])
