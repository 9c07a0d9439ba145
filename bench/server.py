"""The service under test: uvicorn on 127.0.0.1, started and stopped by the bench (by its PID)."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from app.config import PROJECT_ROOT

HOST = "127.0.0.1"
BENCH_RATE_LIMIT_PER_MINUTE = 60_000_000
BENCH_RATE_LIMIT_BURST = 1_000_000


def event_loop_args() -> list[str]:
    """uvicorn's C HTTP parser and event loop (httptools, uvloop: project dependencies, which
    uvicorn's defaults pick up too), named explicitly when installed."""
    args = []
    if importlib.util.find_spec("httptools") is not None:
        args += ["--http", "httptools"]
    if importlib.util.find_spec("uvloop") is not None:
        args += ["--loop", "uvloop"]
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(x) for x in path.read_text().split()]
    except OSError:
        return []


def rss_kb(pid: int, field_name: str = "VmHWM") -> int | None:
    """Peak (VmHWM) or current (VmRSS) resident set of a process, in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Server:
    database_url: str
    workers: int
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 60) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "CLOCK_SWEEP_INTERVAL_SECONDS": "0",
            "PYTHONPATH": str(PROJECT_ROOT),
            # Every HTTP client of the bench sends the same bearer token. The per-token limit
            # (6,000 a minute by default) would turn most of a transition run into 429s: raise
            # it far above what the bench sends, so the limiter still runs on every request
            # (its cost is measured) but never refuses one.
            "RATE_LIMIT_PER_MINUTE": str(BENCH_RATE_LIMIT_PER_MINUTE),
            "RATE_LIMIT_BURST": str(BENCH_RATE_LIMIT_BURST),
        }
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "app.asgi:application",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--no-access-log",
            "--log-level",
            "warning",
            *event_loop_args(),
        ]
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT
        )  # noqa: S603
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as r:  # noqa: S310
                    if r.status == 200 and (
                        self.workers == 1 or len(self.worker_pids()) >= self.workers
                    ):
                        return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("uvicorn did not come up in time")

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the server itself with one worker."""
        if self.proc is None:
            return []
        if self.workers == 1:
            return [self.proc.pid]
        return _children(self.proc.pid)

    def peak_rss_mb(self) -> dict[int, float]:
        out = {}
        for pid in self.worker_pids():
            kb = rss_kb(pid)
            if kb is not None:
                out[pid] = round(kb / 1024, 1)
        return out

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
