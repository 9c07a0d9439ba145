"""The service in a fresh process, as deployed, for tests that need real HTTP from outside.

Use it when a test must see what a deployed server does: several uvicorn workers, the access
log, a process started by the command line, a real browser talking to it, a crash. (For real
concurrency inside the test process, where a test monkeypatches the app, use conftest's
`live_server` instead.)

    from tests.servers import NOTHING_IN_THE_BACKGROUND, running_service

    def test_something(db_url: str, tmp_path: Path) -> None:
        with running_service(
            db_url, env=NOTHING_IN_THE_BACKGROUND, workers=2, log=tmp_path / "server.log"
        ) as server:
            httpx.get(f"{server.url}/api/v1/pathways", headers=...)
            assert "Traceback" not in server.log_text()

`running_service` starts `uvicorn app.asgi:application` (or another `command`) with this
interpreter, from the project root (or `cwd`), in its own process group, on a free port of
127.0.0.1, with DATABASE_URL and `env` (settings as environment variables) over this process's
environment.
It returns once the service is ready: `/readyz` answers 200 (the database answers and its schema
is at head; pass `ready_path="/healthz"` for a database that is not migrated yet), and with
`workers` > 1, every worker has logged that its application started. Everything the service
writes to stdout and stderr goes to `log` (a temporary file unless given: pass one under
`tmp_path` to keep it after a failure). On leaving the block the whole process group is stopped:
SIGTERM, then SIGKILL for anything still running.

The database must exist already (migrated, unless the test is about migrating it): conftest's
`db_url` (shared by the session), or a database of the test's own from `migrated_database_url`
or `fresh_database_url`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[1]

UVICORN = ("-m", "uvicorn", "app.asgi:application", "--host", "127.0.0.1")
"""`uvicorn app.asgi:application` on the loopback address: the default command."""

HOMEFIRST_SERVE = ("-m", "app.cli", "serve", "--host", "127.0.0.1", "--no-migrate")
"""`homefirst serve` (which runs uvicorn itself), without migrating first."""

NOTHING_IN_THE_BACKGROUND = {
    "CLOCK_SWEEP_INTERVAL_SECONDS": "0",
    "LIVE_FIGURES_REFRESH_SECONDS": "0",
    "LIVE_FIGURES_MAX_AGE_SECONDS": "0",
}
"""Settings for a service that computes nothing in the background (no clock sweeper, no
live-figures refresher; today's figures computed on every read), so requests see their own
writes at once and the test decides when work happens."""

STARTED = "Application startup complete."  # what each uvicorn worker logs when it is up
_POLL = 0.02  # seconds between readiness checks: a refused connection costs next to nothing
_PORT_TAKEN = ("address already in use", "errno 98")


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (as the OS assigns ephemeral ports)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_env(database_url: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a service or command-line process of the app on `database_url`."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(PROJECT_ROOT),
        "PYTHONUNBUFFERED": "1",  # its log is complete when it is read
        **(env or {}),
    }


def keep_log(log: Path) -> None:
    """A copy of a process's log for the audit of the run's logs (tests/log_audit.py), when the
    run keeps them (`HOMEFIRST_TEST_LOG_DIR`, set by CI)."""
    kept = os.environ.get(TEST_LOG_DIR)
    if kept and log.exists():
        Path(kept).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, Path(kept) / f"{uuid.uuid4().hex[:12]}-{log.name}")


TEST_LOG_DIR = "HOMEFIRST_TEST_LOG_DIR"


def run_python(args: Sequence[str], env: Mapping[str, str], timeout: float = 120) -> str:
    """Run `python <args>` in a new process from the project root; its stdout. It must exit 0."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, *args],
        cwd=PROJECT_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


class ServiceProcess:
    """One service process (group) on a fixed port; `start` it again after `kill` or `stop`."""

    def __init__(
        self,
        database_url: str,
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] = UVICORN,
        workers: int = 1,
        ready_path: str = "/readyz",
        timeout: float = 90,  # generous: CI machines are shared
        cwd: Path = PROJECT_ROOT,
    ) -> None:
        self.env = process_env(database_url, env)
        self.cwd = cwd
        self.command = [*command, *(["--workers", str(workers)] if workers > 1 else [])]
        self.workers = workers
        self.ready_path = ready_path
        self.timeout = timeout
        self.log = log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._started_once = False

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:43817 (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        """Everything the service (every start of it) has written so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_size(self) -> int:
        """The log's length in bytes now: pass it to `log_since` to read only what follows."""
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, offset: int) -> str:
        return self.log.read_bytes()[offset:].decode(errors="replace")

    def start(self) -> None:
        """Start the service and wait until it is ready. A first start whose port was taken
        meanwhile (another process got it between `free_port` and the bind) moves to another
        port; a restart keeps its port, as clients already hold the URL."""
        for _ in range(3):
            offset = self.log_size()
            self._launch()
            if self._wait_ready(offset):
                self._started_once = True
                return
            taken = any(s in self.log_since(offset).lower() for s in _PORT_TAKEN)
            if self._started_once or not taken:
                break
            self.port = free_port()
        raise AssertionError(
            f"the service did not become ready on {self.url}{self.ready_path}:\n"
            f"{self.log_text()[-6000:]}"
        )

    def _launch(self) -> None:
        cmd = [sys.executable, *self.command, "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                cmd,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: its workers stop with it
            )

    def _wait_ready(self, offset: int) -> bool:
        """True once ready; False if the process exited first (the caller reads the log)."""
        assert self.process is not None
        deadline = time.monotonic() + self.timeout
        with httpx.Client(timeout=2) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False
                if self.workers <= 1 or self.log_since(offset).count(STARTED) >= self.workers:
                    try:
                        if http.get(f"{self.url}{self.ready_path}").status_code == 200:
                            return True
                    except httpx.HTTPError:
                        pass
                time.sleep(_POLL)
        self.stop()
        raise AssertionError(
            f"the service did not become ready on {self.url}{self.ready_path} within "
            f"{self.timeout:.0f}s:\n{self.log_text()[-6000:]}"
        )

    def kill(self) -> None:
        """SIGKILL the whole process group at once, as a crash would (no clean shutdown)."""
        if self.process is not None and self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self._reap()

    def stop(self) -> None:
        """Stop cleanly (SIGTERM to the group), then SIGKILL whatever is left of it."""
        if self.process is not None and self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._reap()

    def _reap(self) -> None:
        """Any worker of the group left behind after its supervisor ended."""
        if self.process is not None:
            _signal_group(self.process.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


@contextmanager
def running_service(
    database_url: str,
    *,
    env: Mapping[str, str] | None = None,
    command: Sequence[str] = UVICORN,
    workers: int = 1,
    log: Path | None = None,
    ready_path: str = "/readyz",
    timeout: float = 90,
    cwd: Path = PROJECT_ROOT,
) -> Iterator[ServiceProcess]:
    """The service on `database_url`, started and ready inside the block, stopped after it.

    env: settings for the service, as environment variables (e.g. NOTHING_IN_THE_BACKGROUND),
        over this process's environment; DATABASE_URL and PYTHONPATH are set for you.
    command: the arguments after `python`; `--port` (and `--workers` when > 1) are added.
    workers: uvicorn workers; with more than one, the wait includes each worker's start.
    log: where stdout and stderr go (appended to); a temporary file when not given.
    ready_path: the path that must answer 200 before the block starts.
    cwd: the directory it runs in (the project root: where it finds alembic.ini, migrations/
        and pathways/ when the app is not imported from a source checkout).
    """
    with tempfile.TemporaryDirectory(prefix="hf-service-") as scratch:
        service = ServiceProcess(
            database_url,
            log=log or Path(scratch) / "service.log",
            env=env,
            command=command,
            workers=workers,
            ready_path=ready_path,
            timeout=timeout,
            cwd=cwd,
        )
        try:
            service.start()
            yield service
        finally:
            service.stop()
            keep_log(service.log)
