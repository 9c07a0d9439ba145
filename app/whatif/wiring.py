"""What the what-if's routes and page need of the application (loaded when it starts,
app.main): the configuration, and the background job's wake-up."""

from __future__ import annotations

import threading

from fastapi import Request

from app.whatif.config import WhatIfConfig


def whatif_config(request: Request) -> WhatIfConfig:
    config: WhatIfConfig = request.app.state.whatif_config
    return config


def wake(request: Request) -> None:
    """This process's job carries the run out now rather than at its next poll."""
    event: threading.Event | None = getattr(request.app.state, "whatif_wake", None)
    if event is not None:
        event.set()
