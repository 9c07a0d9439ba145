"""Test fixtures: every database test runs on SQLite and again on PostgreSQL.

PostgreSQL comes from TEST_POSTGRES_URL (default: the local server). When it cannot be reached
its tests are skipped, unless HOMEFIRST_REQUIRE_POSTGRES=1 (as in CI), which makes that an error.
With HOMEFIRST_TEST_PGBOUNCER=1 every PostgreSQL database a test is given is reached through a
PgBouncer in transaction pooling mode that the session starts (tests/pgbouncer.py).
Each backend gets a fresh database built by `alembic upgrade head`, never `create_all`: the
session migrates one template database per backend, and every migrated database a test asks for
(`migrated_database_url`, the shared `db_url`) is a copy of it (a file copy on SQLite, `CREATE
DATABASE ... TEMPLATE` on PostgreSQL). Tests about migrations take an empty database
(`fresh_database_url`) and run Alembic themselves.

Under pytest-xdist every worker is a session of its own, with its own databases. A module's
tests on one backend go to one worker together, so a fixture built once for the module (a
database or a server) is still built once, and each worker changes backend at most once, so its
session-wide database, app and server per backend are built once too (tests/scheduling.py).
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import Actor
from app.auth.service import add_user, create_token
from app.cases.transition import CaseWriter
from app.codelists.checks import code_checker
from app.codelists.loader import CodeSetRegistry
from app.composition import build_catalogue, build_writer, workflows
from app.config import PROJECT_ROOT, Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.engine.catalogue import PathwayCatalogue
from app.engine.engine import Engine
from app.main import create_app
from app.migrations_state import upgrade_to_head
from app.observability.logs import ContextFilter, JsonLines, Redact
from tests.pgbouncer import THROUGH_PGBOUNCER, PgBouncer, pgbouncer_in_front
from tests.servers import TEST_LOG_DIR

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_URL = os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG)
REQUIRE_PG = os.environ.get("HOMEFIRST_REQUIRE_POSTGRES") == "1"


def postgres_available() -> bool:
    try:
        engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


class PostgresDatabases:
    """Creates and drops throwaway databases on the test server.

    Databases are durable unless asked otherwise (`durable=False`, what conftest's helpers and
    `db_url` ask for): then a commit returns before its WAL record reaches the disk
    (`synchronous_commit = off`, set on the database). Every session sees the same data at the
    same moments; only a crash of the PostgreSQL server itself could lose the last commits,
    and the one test that crashes it (tests/hardening/test_crash.py) takes a durable one. A
    commit then costs a fraction of a millisecond instead of a disk flush (about 6 ms here).
    """

    def __init__(self, bouncer: PgBouncer | None = None) -> None:
        # Databases are created, copied and dropped directly; tests reach them through
        # `bouncer` when there is one.
        self.bouncer = bouncer
        self.admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []
        self._template: str | None = None
        self._dropper: ThreadPoolExecutor | None = None
        self._closed = False

    def create(self, template: str | None = None, *, durable: bool = True) -> str:
        """A new database: empty, or a copy of `template` (which nobody may be connected to)."""
        name = f"hf_test_{uuid.uuid4().hex[:12]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
            if not durable:
                conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        self.created.append(name)
        return self.url(name)

    def migrated(self, *, durable: bool = True) -> str:
        """A new database at the migrations' head: a copy of this session's template, which is
        migrated by `alembic upgrade head` the first time it is needed (and never connected to
        after that, as PostgreSQL requires of a template)."""
        if self._template is None:
            template = self.create(durable=False)
            # Directly: a connection PgBouncer kept open to it would forbid every copy.
            upgrade_to_head(self.direct_url(make_url(template).database or ""))
            self._template = make_url(template).database
        return self.create(template=self._template, durable=durable)

    def url(self, name: str) -> str:
        """How tests reach database `name`: through the session's PgBouncer if it has one."""
        direct = self.direct_url(name)
        return self.bouncer.url_of(direct) if self.bouncer else direct

    def direct_url(self, name: str) -> str:
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    def drop_when_finished(self, url: str, request: pytest.FixtureRequest) -> None:
        """Drop the database once the fixture or test of `request` is finished (its dependents
        first), in a thread of its own: a drop waits for a checkpoint, a second or two that no
        test needs to wait for, nor the end of the session."""
        name = make_url(url).database
        assert name in self.created, name
        request.addfinalizer(lambda: self._drop_in_background(name))

    def _drop_in_background(self, name: str) -> None:
        if name not in self.created:  # dropped already, by drop_all
            return
        if self._closed:
            self._drop(name)
            return
        if self._dropper is None:
            self._dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drop-db")
        self._dropper.submit(self._drop, name)

    def _drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.remove(name)

    def drop_all(self) -> None:
        """Every database not dropped yet (a failed drop in the background is tried again)."""
        self._closed = True
        if self._dropper is not None:
            self._dropper.shutdown(wait=True)
        with self.admin.connect() as conn:
            for name in list(self.created):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.clear()
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresDatabases]:
    if not postgres_available():
        if REQUIRE_PG:
            pytest.fail(
                f"PostgreSQL is required (HOMEFIRST_REQUIRE_POSTGRES=1) but {PG_URL} "
                "cannot be reached"
            )
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    if not THROUGH_PGBOUNCER:
        dbs = PostgresDatabases()
        yield dbs
        dbs.drop_all()
        return
    with pgbouncer_in_front(PG_URL, tmp_path_factory.mktemp("pgbouncer")) as bouncer:
        dbs = PostgresDatabases(bouncer)
        yield dbs
        dbs.drop_all()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the migrations' head, for `migrated_database_url` to copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_to_head(f"sqlite:///{path}")  # its engine is disposed: no -wal file is left
    assert not path.with_name(f"{path.name}-wal").exists()
    return path


def fresh_database_url(backend: str, tmp_dir: Path, request: pytest.FixtureRequest) -> str:
    """A new, empty database (no tables): for tests that run the migrations themselves. On
    PostgreSQL it is dropped once the fixture or test of `request` is finished."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_dir / f'{uuid.uuid4().hex[:8]}.db'}"
    dbs: PostgresDatabases = request.getfixturevalue("pg_databases")
    url = dbs.create(durable=False)
    dbs.drop_when_finished(url, request)
    return url


def migrated_database_url(backend: str, tmp_dir: Path, request: pytest.FixtureRequest) -> str:
    """A new database of the test's own at the migrations' head, exactly what `alembic upgrade
    head` builds (a copy of the session's migrated template), holding no data. On PostgreSQL it
    is dropped once the fixture or test of `request` is finished."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_dir / f"{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    dbs: PostgresDatabases = request.getfixturevalue("pg_databases")
    url = dbs.migrated(durable=False)
    dbs.drop_when_finished(url, request)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def db_url(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> str:
    """The database the session's tests share on `backend` (made once per worker: see
    tests/scheduling.py)."""
    return migrated_database_url(backend, tmp_path_factory.mktemp("db"), request)


@pytest.fixture(scope="session")
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def catalogue() -> PathwayCatalogue:
    return build_catalogue(workflows(), PROJECT_ROOT / "pathways")


@pytest.fixture
def engine(catalogue: PathwayCatalogue, codes: CodeSetRegistry) -> Engine:
    return Engine(catalogue, code_check=code_checker(codes))


@pytest.fixture(scope="session")
def codes() -> CodeSetRegistry:
    return CodeSetRegistry.from_directory(PROJECT_ROOT / "pathways" / "codelists")


@pytest.fixture(scope="session")
def settings(db_url: str) -> Settings:
    # Today's figures computed on every request: tests read them right after writing
    # (the figures computed ahead have tests of their own).
    # No background threads either: a job that runs and stops leaves a heartbeat that would
    # make the shared database's /readyz fail three periods later (app/health.py).
    return Settings(
        database_url=db_url,
        clock_sweep_interval_seconds=0,
        live_figures_max_age_seconds=0,
        live_figures_refresh_seconds=0,
    )


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@dataclass(frozen=True)
class TestUser:
    actor: Actor
    token: str
    org: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _user_factory(sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]

    def _make(*roles: str, org: str | None = None) -> TestUser:
        name = f"u_{uuid.uuid4().hex[:10]}"
        org = org or f"ORG-{uuid.uuid4().hex[:8].upper()}"
        with sessions() as session:
            user = add_user(
                session, username=name, display_name=name, organisation=org, roles=list(roles)
            )
            token = create_token(session, username=name).token
        return TestUser(Actor(user.id, name, org, frozenset(roles)), token, org)

    return _make


@pytest.fixture
def make_user(sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    """Make a user with roles in a fresh organisation (so tests never see each other's cases)."""
    return _user_factory(sessions)


@pytest.fixture(scope="module")
def make_user_module(sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    """As make_user, for module-scoped data built once and read by several tests."""
    return _user_factory(sessions)


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[str]:
    """The real service under uvicorn on a free local port, for tests with real concurrency."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def writer(engine: Engine, codes: CodeSetRegistry, settings: Settings) -> CaseWriter:
    """The transition entry point with every registered workflow's read models."""
    return build_writer(settings, engine, codes)


# -- running on several workers (pytest-xdist) ---------------------------------------------------
BACKENDS = ("sqlite", "postgresql")


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """When the run keeps its logs for the audit (`HOMEFIRST_TEST_LOG_DIR`, tests/log_audit.py),
    this process's own log lines (the in-process application's) go there too, through the same
    JSON handler and filters the service uses."""
    if THROUGH_PGBOUNCER:
        # This process's settings and every process it starts: no prepared statements.
        os.environ["DATABASE_POOLER"] = "transaction"
        get_settings.cache_clear()
    kept = os.environ.get(TEST_LOG_DIR)
    if not kept:
        return
    Path(kept).mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    handler = logging.FileHandler(Path(kept) / f"pytest-{worker}-{os.getpid()}.log")
    handler.setFormatter(JsonLines())
    handler.addFilter(ContextFilter())
    handler.addFilter(Redact())
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadscope` (pyproject's addopts), with a module's tests on one backend as the
    unit of work, queued so that each worker changes backend at most once and the longest units
    start first (tests/scheduling.py). Other `--dist` modes are xdist's own."""
    if config.getvalue("dist") != "loadscope":
        return None
    from tests.scheduling import ModuleAndBackend

    return ModuleAndBackend(config, log)


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    """The run's one Chromium (tests/browser.py). Playwright's sync API allows one instance per
    thread, so every browser test shares it: as `browser`, or as `chromium_browser` in a module
    whose own `browser` fixture is an HTTP client."""
    from tests.browser import launch_browser

    yield from launch_browser()


@pytest.fixture(scope="session")
def browser(chromium_browser: Any) -> Any:
    return chromium_browser
