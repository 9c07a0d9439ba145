"""The MLLP listener in its own process (`homefirst adt listen`), as it runs for real."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import hl7

from tests.servers import PROJECT_ROOT, free_port, process_env

READY = re.compile(r"ADT listener on [\d.]+:(\d+)")


@contextmanager
def running_listener(
    database_url: str, log: Path, *, pathways: Path | None = None, timeout: float = 60
) -> Iterator[int]:
    """Start the listener on a free port; yield the port once it says it is listening; stop
    it with SIGTERM (as a service manager does) at the end."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "app.cli", "adt", "listen", "--port", str(port), "--no-migrate"],
            cwd=PROJECT_ROOT,
            env=process_env(database_url, {"PATHWAYS_DIR": str(pathways)} if pathways else None),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while READY.search(log.read_text(errors="replace")) is None:
            assert process.poll() is None, f"the listener exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the listener did not start:\n{log.read_text()}"
            time.sleep(0.05)
        yield port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def msa(ack: bytes) -> tuple[str, str]:
    """(MSA-1, MSA-2) of an ACK as the `hl7` package reads it (a parser the project did not
    write)."""
    text = ack.decode().strip("\x0b\x1c\r\n")
    message = hl7.parse(text)
    segment = message.segment("MSA")
    return str(segment[1]), str(segment[2])
