"""Notification tests: a database of the module's own (the fan-out reads every outbox row), a
real SMTP server (aiosmtpd) and a real HTTP receiver for webhooks, both on free local ports."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.auth.access import AccessPolicy, load_access
from app.auth.actor import Actor
from app.auth.service import add_user, create_token
from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_sessionmaker
from app.main import create_app
from tests.conftest import TestUser, migrated_database_url
from tests.hardening.conftest import dispose
from tests.servers import free_port


@dataclass
class World:
    settings: Settings
    client: TestClient
    sessions: sessionmaker[Session]
    policy: AccessPolicy

    def user(self, *roles: str, org: str | None = None) -> TestUser:
        name = f"n_{uuid.uuid4().hex[:10]}"
        org = org or f"NORG-{uuid.uuid4().hex[:6].upper()}"
        with self.sessions() as session:
            user = add_user(
                session, username=name, display_name=name, organisation=org, roles=list(roles)
            )
            token = create_token(session, username=name).token
        return TestUser(Actor(user.id, name, org, frozenset(roles)), token, org)


@pytest.fixture(scope="module")
def world(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[World]:
    url = migrated_database_url(backend, tmp_path_factory.mktemp("notify"), request)
    settings = Settings(
        database_url=url,
        clock_sweep_interval_seconds=0,
        live_figures_max_age_seconds=0,
        live_figures_refresh_seconds=0,
        public_base_url="https://homefirst.test",
    )
    app = create_app(settings)
    db = make_engine(url)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(
            settings,
            client,
            make_sessionmaker(db),
            load_access(PROJECT_ROOT / "pathways" / "config"),
        )
    dispose(app)
    db.dispose()


class _Inbox:
    """aiosmtpd's handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: _Inbox


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, inbox)
    finally:
        controller.stop()


@dataclass
class Receiver:
    """A webhook receiver that answers 500 to its first `failures` requests, then 204."""

    url: str
    failures: int
    requests: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            status = 500 if len(self.requests) < self.failures else 204
            self.requests.append((headers, body, status))
            return status

    @property
    def succeeded(self) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b, status in self.requests if status < 300]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = box["r"].answer({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:  # keep the test output quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks/homefirst", 2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()
