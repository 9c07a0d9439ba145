"""PgBouncer in transaction pooling mode, started by the tests in front of the test PostgreSQL.

    with pgbouncer_in_front(PG_URL, tmp_path) as bouncer:
        url = bouncer.url_of(some_database_url)   # the same database, through PgBouncer

Debian's `pgbouncer` (`apt-get install pgbouncer`; CI installs it) runs as a child process of
the test, not as a daemon, on a free port of 127.0.0.1, with `pool_mode = transaction` and
every database of the server (`* = ...`) reachable under its own name. PgBouncer refuses to run
as root: as root it is started with `-u` and the owner of the PostgreSQL server's data
(`postgres`), which it switches to once it has read its files.

With `HOMEFIRST_TEST_PGBOUNCER=1` the whole session goes through one (tests/conftest.py): every
PostgreSQL database a test is given is reached through it, and `DATABASE_POOLER=transaction` is
set for the session and every process it starts. CI runs the API and concurrency tests so
(.ci/run); the databases are still created, migrated as templates and dropped directly.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.servers import free_port

THROUGH_PGBOUNCER = os.environ.get("HOMEFIRST_TEST_PGBOUNCER") == "1"
"""The session's PostgreSQL databases are reached through a PgBouncer it starts."""

REQUIRE_PGBOUNCER = THROUGH_PGBOUNCER or os.environ.get("HOMEFIRST_REQUIRE_PGBOUNCER") == "1"
"""A missing `pgbouncer` is an error, not a skip (CI)."""

RUN_AS = "postgres"  # the user PgBouncer switches to when started as root


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")


@dataclass(frozen=True)
class PgBouncer:
    host: str
    port: int
    log: Path

    def url_of(self, database_url: str) -> str:
        """`database_url` (a database of the server behind) through this PgBouncer."""
        through = make_url(database_url).set(host=self.host, port=self.port)
        return through.render_as_string(hide_password=False)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _config(server_url: str, directory: Path, port: int, pool_size: int) -> Path:
    server = make_url(server_url)
    user, password = server.username or RUN_AS, server.password or ""
    users = directory / "userlist.txt"
    # PgBouncer logs in to PostgreSQL with the password listed for the client's user.
    users.write_text(f'"{user}" "{password}"\n')
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={server.host or '127.0.0.1'} port={server.port or 5432}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = trust\n"
        f"auth_file = {users}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 1000\n"
        f"default_pool_size = {pool_size}\n"
        # psycopg sends none of these, but a client that does must not be refused.
        "ignore_startup_parameters = extra_float_digits,options\n"
        # A dropped test database's pool is forgotten soon.
        "autodb_idle_timeout = 30\n"
    )
    return ini


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def pgbouncer_in_front(
    server_url: str, directory: Path, *, pool_size: int = 20
) -> Iterator[PgBouncer]:
    """A PgBouncer (transaction pooling, `pool_size` server connections per database and user)
    in front of the server of `server_url`, running inside the block, stopped after it."""
    binary = pgbouncer_binary()
    if binary is None:
        raise FileNotFoundError("pgbouncer is not installed (apt-get install pgbouncer)")
    directory.mkdir(parents=True, exist_ok=True)
    # Not `*.log`: the run's log audit (tests/log_audit.py) is of the service's own logs, and
    # PgBouncer's names every test database it pools (`hf_test_...`, shaped like a token).
    log = directory / "pgbouncer-output.txt"
    for _ in range(3):  # another process may take the free port before PgBouncer binds it
        port = free_port()
        ini = _config(server_url, directory, port, pool_size)
        as_root = ["-u", RUN_AS] if os.geteuid() == 0 else []
        if as_root:
            pwd.getpwnam(RUN_AS)  # a KeyError names the missing user
        with log.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603 - the installed pgbouncer, our arguments
                [binary, *as_root, str(ini)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 15
        while process.poll() is None and not _listening(port):
            if time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"pgbouncer did not listen:\n{log.read_text()}")
            time.sleep(0.05)
        if process.poll() is None:
            break
    else:
        raise AssertionError(f"pgbouncer did not start:\n{log.read_text()}")
    try:
        yield PgBouncer("127.0.0.1", port, log)
    finally:
        process.send_signal(signal.SIGTERM)  # immediate shutdown: the test is over
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
