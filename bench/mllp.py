"""MLLP pieces of `python -m bench adt`: the raw baselines' server, a process the bench starts
and measures, and the one-connection sender every measurement uses.

`python -m bench.mllp [--commit DSN]` is the raw baseline: an asyncio MLLP server that answers
each message with a minimal AA at once (no parsing beyond finding MSH-10, no database), or with
`--commit` only after an INSERT of the message and a COMMIT on PostgreSQL (the least a listener
that acknowledges after a durable write must do). It prints its port when ready.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hl7.client import MLLPClient

from app.config import PROJECT_ROOT

HOST = "127.0.0.1"
START, END = b"\x0b", b"\x1c\r"
ECHO_READY = re.compile(r"MLLP echo on 127\.0\.0\.1:(\d+)")
LISTENER_READY = re.compile(r"HomeFirst ADT listener on 127\.0\.0\.1:(\d+) \(MLLP\)")
RAW_TABLE = "bench_adt_raw"
CREATE_RAW_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} (id bigserial PRIMARY KEY, control_id text "
    "NOT NULL, raw text NOT NULL, received_at timestamptz NOT NULL DEFAULT now())"
)


# -- the raw baseline's server ------------------------------------------------------------------
def _ack(frame: bytes) -> bytes:
    fields = frame.split(b"\r", 1)[0].split(b"|")
    control_id = fields[9] if len(fields) > 9 else b""
    return (
        START
        + b"MSH|^~\\&|ECHO||||"
        + time.strftime("%Y%m%d%H%M%S").encode()
        + b"||ACK|"
        + uuid.uuid4().hex[:20].encode()
        + b"|P|2.4\rMSA|AA|"
        + control_id
        + END
    )


async def _serve(commit_dsn: str | None) -> None:
    conn: Any = None
    if commit_dsn:
        import psycopg

        conn = psycopg.connect(commit_dsn)

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(START)
                frame = (await reader.readuntil(END))[: -len(END)]
                if conn is not None:
                    control_id = frame.split(b"\r", 1)[0].split(b"|")[9].decode()
                    conn.execute(
                        f"INSERT INTO {RAW_TABLE} (control_id, raw) VALUES (%s, %s)",
                        (control_id, frame.decode()),
                    )
                    conn.commit()
                writer.write(_ack(frame))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(connection, HOST, 0)
    print(f"MLLP echo on {HOST}:{server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


# -- a process the bench starts -----------------------------------------------------------------
@dataclass
class Proc:
    """A process in its own group, started and stopped by the bench (by its id), whose CPU
    time can be read."""

    args: list[str]
    env: dict[str, str]
    log: Path
    ready: re.Pattern[str]
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    def start(self, timeout: float = 120) -> int:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, *self.args],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")[offset:]
            if (found := self.ready.search(text)) is not None:
                self.port = int(found.group(1))
                return self.port
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.args} exited: {text[-3000:]}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.args} did not start; see {self.log}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def process_env(database_url: str | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONUNBUFFERED": "1"}
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


# -- the sender ----------------------------------------------------------------------------------
@dataclass
class Sent:
    """What one connection sent and got back."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # send -> whole ACK read
    behind: list[float] = field(default_factory=list)  # scheduled send -> whole ACK read
    by_trigger: dict[str, list[float]] = field(default_factory=dict)
    refused: int = 0  # an ACK other than AA

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def stream(
    port: int,
    messages: list[tuple[str, bytes]],
    *,
    rate: float | None = None,
    seconds: float | None = None,
) -> Sent:
    """Send (trigger, ER7) messages over ONE connection (hl7.client.MLLPClient), each after the
    previous one's ACK. `rate`: paced, message i due at i/rate seconds (if an ACK comes late,
    the next is sent at once and `behind` shows the queueing); `seconds`: stop sending then."""
    out = Sent()
    with MLLPClient(HOST, port) as client:
        client.socket.settimeout(120)
        t0 = time.perf_counter()
        for i, (trigger, raw) in enumerate(messages):
            now = time.perf_counter()
            due = t0 + i / rate if rate else now
            if seconds is not None and max(due, now) - t0 >= seconds:
                break
            if (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            data = client.send_message(raw)
            while not data.endswith(END):
                more = client.socket.recv(65536)
                if not more:
                    raise RuntimeError("the server closed the connection")
                data += more
            done = time.perf_counter()
            out.latencies.append(done - sent)
            out.behind.append(done - due)
            out.by_trigger.setdefault(trigger, []).append(done - sent)
            out.refused += b"MSA|AA|" not in data
        out.seconds = time.perf_counter() - t0
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mllp", description=__doc__)
    parser.add_argument("--commit", metavar="DSN", help="INSERT and COMMIT before each ACK")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.commit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
