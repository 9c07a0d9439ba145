"""Sending: email to a real SMTP server, signed webhooks to a real HTTP receiver, retries with
backoff, dead letters and their retry, and the job running in the worker's background."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import httpx

from app.config import PROJECT_ROOT
from app.models import NotificationDelivery
from app.notifications.delivery import RetryPolicy, SendReport, send_due
from app.notifications.email import SmtpSender
from app.notifications.fanout import fan_out
from app.notifications.webhook import WebhookSender, signature
from app.observability.repository import OperationalFigures, OperationsRepository
from app.timeutil import utcnow
from app.worker import Background, BackgroundParts
from tests.discharge.helpers import NHS
from tests.notifications.conftest import Receiver, SmtpServer, World
from tests.notifications.helpers import REASON, TEAM, deliveries_to, escalated_case, subscribe

if TYPE_CHECKING:
    from tests.conftest import TestUser

RETRY = RetryPolicy(max_attempts=3, base_seconds=60, max_seconds=600, lease=timedelta(minutes=2))


def _send(
    world: World, smtp: SmtpServer | None = None, *, now: datetime | None = None
) -> SendReport:
    """One run of the job's two steps at `now`: fan out, then send what is due."""
    settings = world.settings.model_copy(
        update={
            "smtp_host": smtp.host if smtp else None,
            "smtp_port": smtp.port if smtp else 25,
            "smtp_starttls": False,
        }
    )
    now = now or utcnow()
    fan_out(world.sessions, policy=world.policy, now=now)
    return send_due(
        world.sessions,
        {"email": SmtpSender(settings), "webhook": WebhookSender(timeout=5)},
        retry=RETRY,
        public_base_url=settings.public_base_url,
        now=now,
        rng=random.Random(7),
    )


def _readme_recipe() -> Callable[..., bool]:
    """The README's webhook verification recipe, as written there."""
    text = (PROJECT_ROOT / "README.md").read_text()
    start = text.index("```python\nimport hashlib, hmac, time")
    code = text[start + len("```python\n") : text.index("```", start + 10)]
    scope: dict[str, Any] = {}
    exec(code, scope)  # noqa: S102 - the project's own README
    return cast("Callable[..., bool]", scope["verify"])


def _org_webhook(world: World, receiver: Receiver) -> tuple[TestUser, dict[str, Any]]:
    """An administrator who may escalate, and their organisation's webhook to `receiver`."""
    admin = world.user("admin", *TEAM)
    created = subscribe(
        world,
        admin,
        kind="case_escalated",
        channel="webhook",
        scope="organisation",
        address=receiver.url,
    )
    return admin, created


def test_email_carries_the_kind_and_a_link_never_patient_data(
    world: World, smtp_server: SmtpServer
) -> None:
    owner = world.user(*TEAM)
    subscribe(world, owner, kind="case_escalated", channel="email", address="ward7@nhs.test")
    case_id = escalated_case(world, owner, NHS[6])
    report = _send(world, smtp_server)
    assert report.sent >= 1
    [(to, message)] = [m for m in smtp_server.inbox.messages if m[0] == ["ward7@nhs.test"]]
    text = message.as_string()
    assert message["Subject"] == f"HomeFirst: A case was escalated (case {case_id})"
    assert message["X-HomeFirst-Kind"] == "case_escalated"
    assert f"https://homefirst.test/tracker/cases/{case_id}" in text
    # Neither the NHS number nor the escalation's free text (HomeFirst stores no names).
    assert NHS[6] not in text
    assert "Acacia" not in text
    assert REASON not in text
    [delivery] = [
        d for d in deliveries_to(world.sessions, owner.actor.user_id) if d.channel == "email"
    ]
    assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_a_webhook_that_fails_twice_gets_the_event_once_with_a_valid_signature(
    world: World, receiver: Receiver
) -> None:
    admin, created = _org_webhook(world, receiver)
    secret = created["secret"]
    assert secret
    assert len(secret) >= 32
    listed = world.client.get("/api/v1/notifications/subscriptions", headers=admin.headers).json()
    assert [s.get("secret") for s in listed] == [None]
    assert secret not in str(listed)

    case_id = escalated_case(world, admin, NHS[7])
    t0 = utcnow()
    for hours in (0, 1, 2, 3):  # each run an hour on: every retry is due by then
        _send(world, now=t0 + timedelta(hours=hours))
    assert [status for _, _, status in receiver.requests] == [500, 500, 204]
    [(headers, body)] = receiver.succeeded
    expected = signature(secret, headers["x-homefirst-timestamp"], body)
    assert headers["x-homefirst-signature"] == f"sha256={expected}"
    verify = _readme_recipe()  # what the README tells receivers to run
    assert verify(secret, httpx.Headers(headers), body)
    assert not verify(secret, httpx.Headers(headers), body.replace(b"case_", b"cases"))
    assert not verify("another-secret", httpx.Headers(headers), body)
    assert abs(int(headers["x-homefirst-timestamp"]) - time.time()) < 120
    ids = {h["x-homefirst-delivery"] for h, _, _ in receiver.requests}
    assert len(ids) == 1  # the same delivery id on every attempt: the receiver can dedupe
    assert f'"case_id":{case_id}' in body.decode()
    assert NHS[7] not in body.decode()
    with world.sessions() as session:
        delivery = session.get(NotificationDelivery, int(ids.pop()))
        assert delivery is not None
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, None)


def test_backoff_waits_longer_each_time_with_jitter() -> None:
    rng = random.Random(1)
    delays = [RETRY.delay(n, rng).total_seconds() for n in (1, 2, 3, 4, 5, 6, 7)]
    assert 30 <= delays[0] <= 60
    assert 60 <= delays[1] <= 120
    assert 120 <= delays[2] <= 240
    assert all(300 <= d <= 600 for d in delays[4:])  # capped at max_seconds, less jitter
    assert len({round(d, 6) for d in delays}) == len(delays)


def test_a_delivery_out_of_attempts_is_a_dead_letter_an_admin_can_retry(
    world: World, receiver: Receiver
) -> None:
    receiver.failures = 10
    admin, _ = _org_webhook(world, receiver)
    before = _operations(world)
    escalated_case(world, admin, NHS[8])
    # /metrics's figures: the new notification waits in the outbox until the job fans it out.
    assert _operations(world).notifications_waiting == before.notifications_waiting + 1
    t0 = utcnow()
    _send(world, now=t0)
    assert [s for _, _, s in receiver.requests] == [500]
    _send(world, now=t0 + timedelta(seconds=1))  # not due yet: backoff
    assert len(receiver.requests) == 1
    for hours in (1, 2, 3):
        _send(world, now=t0 + timedelta(hours=hours))
    assert len(receiver.requests) == 3  # max_attempts, then no more
    assert _operations(world).deliveries_dead == before.deliveries_dead + 1

    dead = world.client.get("/api/v1/notifications/dead-letters", headers=admin.headers)
    assert dead.status_code == 200, dead.text
    [item] = dead.json()["items"]
    assert (item["attempts"], item["last_error"], item["channel"]) == (
        3,
        "webhook: HTTP 500",
        "webhook",
    )
    outsider = world.user("admin")
    assert (
        world.client.get("/api/v1/notifications/dead-letters", headers=outsider.headers).json()[
            "items"
        ]
        == []
    )
    r = world.client.post(
        f"/api/v1/notifications/dead-letters/{item['id']}/retry", headers=outsider.headers
    )
    assert r.status_code == 404, r.text

    receiver.failures = 0
    r = world.client.post(
        f"/api/v1/notifications/dead-letters/{item['id']}/retry", headers=admin.headers
    )
    assert r.status_code == 204, r.text
    _send(world, now=utcnow())
    assert [s for _, _, s in receiver.requests][-1] == 204
    after = _operations(world)
    assert (after.deliveries_dead, after.notifications_waiting) == (
        before.deliveries_dead,
        before.notifications_waiting,
    )
    assert (
        world.client.get("/api/v1/notifications/dead-letters", headers=admin.headers).json()[
            "items"
        ]
        == []
    )


def test_the_worker_runs_the_job_in_the_background(world: World, receiver: Receiver) -> None:
    receiver.failures = 0
    admin, _ = _org_webhook(world, receiver)
    escalated_case(world, admin, NHS[9])
    app_parts: BackgroundParts = world.client.app.state.background  # type: ignore[attr-defined]
    settings = world.settings.model_copy(
        update={
            "notification_poll_seconds": 0.2,
            "chc_import_poll_seconds": 0,
            "whatif_poll_seconds": 0,
        }
    )
    background = Background(
        BackgroundParts(
            settings, world.sessions, app_parts.writer, app_parts.metrics_ctx, app_parts.live
        )
    )
    assert background.jobs() == ["notifications"]
    background.start()
    try:
        deadline = time.monotonic() + 20
        while not receiver.succeeded and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        background.stop()
    assert len(receiver.succeeded) == 1


def _operations(world: World) -> OperationalFigures:
    with world.sessions() as session:
        now = utcnow()
        return OperationsRepository(session).figures(now, asked_since=now)
