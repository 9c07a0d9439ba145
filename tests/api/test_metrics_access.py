"""Who may read /metrics (issue 18, item 2): the monitoring system, by its token or from a
configured network; nobody else, however signed in. The fresh-process test
(tests/e2e/test_observability.py) reads the figures themselves."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app

TOKEN = "metrics-token-for-the-tests-0001"


def _client(db_url: str, address: str, **settings: object) -> TestClient:
    app = create_app(
        Settings(
            database_url=db_url,
            clock_sweep_interval_seconds=0,
            live_figures_refresh_seconds=0,
            chc_import_poll_seconds=0,
            **settings,  # type: ignore[arg-type]
        )
    )
    return TestClient(app, client=(address, 40000), raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("address", "expected"),
    [("10.20.30.40", 200), ("10.21.0.1", 403), ("192.168.1.5", 403), ("testclient", 403)],
)
def test_a_configured_network_may_read_without_the_token(
    db_url: str, address: str, expected: int
) -> None:
    with _client(db_url, address, metrics_networks=["10.20.0.0/16"]) as client:
        r = client.get("/metrics")
    assert r.status_code == expected, r.text
    if expected == 200:
        assert "homefirst_clock_sweeper_lag_seconds" in r.text
    else:
        assert r.json()["code"] == "forbidden"


def test_with_nothing_configured_nobody_may_read(db_url: str) -> None:
    with _client(db_url, "127.0.0.1") as client:
        assert client.get("/metrics").status_code == 403
        # A token sent when none is configured is no way in either.
        assert client.get("/metrics", headers={"Authorization": "Bearer x" * 3}).status_code == 401


def test_the_token_opens_it_from_anywhere(db_url: str) -> None:
    with _client(db_url, "203.0.113.9", metrics_token=TOKEN) as client:
        assert (
            client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        )
        assert (
            client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        )


def test_a_bad_network_stops_the_start() -> None:
    with pytest.raises(ValueError, match="10.0.0.0/33"):
        Settings(metrics_networks=["10.0.0.0/33"])
