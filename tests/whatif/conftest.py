"""The what-if tests' service with no background job (WHATIF_POLL_SECONDS=0): runs stay queued
until a test carries them out itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.chc.worklist import worklist_states
from app.config import Settings
from app.main import create_app
from app.whatif.service import WhatIfParts, run_pending
from tests.hardening.conftest import dispose


@pytest.fixture(scope="module")
def quiet(db_url: str) -> Iterator[TestClient]:
    settings = Settings(
        database_url=db_url,
        clock_sweep_interval_seconds=0,
        live_figures_max_age_seconds=0,
        live_figures_refresh_seconds=0,
        chc_import_poll_seconds=0,
        whatif_poll_seconds=0,
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    dispose(app)


def job(client: TestClient, **options: object) -> WhatIfParts:
    state = client.app.state
    return WhatIfParts(
        state.sessions,
        state.metrics_ctx,
        state.whatif_config,
        state.ledger_config,
        worklist_states(state.engine),
        **options,  # type: ignore[arg-type]
    )


def carry_out(client: TestClient, run_id: int) -> int:
    """Runs the job on `run_id` only: how many runs it carried out (0 or 1)."""
    return run_pending(job(client), only=run_id)
