"""The MLLP listener (`homefirst adt listen`): a long-running asyncio TCP server.

MLLP frames each message as <VT> message <FS><CR>. Messages on one connection are processed in
order, one at a time (the sender waits for each ACK, which is what keeps a feed in order); each
is applied in a worker thread with its own database session, and its ACK is written only after
the commit (`AdtService.receive`). Several connections are served at once, each in its own
thread of the pool.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from app.adt.service import AdtService

START, END = b"\x0b", b"\x1c\x0d"
MAX_MESSAGE_BYTES = 1_000_000  # an ADT message is a few kilobytes; more is not a message

log = logging.getLogger("homefirst.adt")


class MllpListener:
    def __init__(
        self,
        service: AdtService,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        threads: int = 8,
    ) -> None:
        self.service, self.sessions, self.clock = service, sessions, clock
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="adt")
        self._server: asyncio.Server | None = None

    def handle_one(self, raw: bytes) -> bytes:
        """One framed message's ACK (runs in a worker thread)."""
        text = _decode(raw)
        with self.sessions() as session:
            receipt = self.service.receive(session, text, now=self.clock())
        return START + receipt.ack.encode("utf-8") + END

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    await reader.readuntil(START)
                    framed = await reader.readuntil(END)
                except asyncio.IncompleteReadError:
                    return  # the sender closed the connection
                except asyncio.LimitOverrunError:
                    log.warning("adt: a frame over %d bytes; connection closed", MAX_MESSAGE_BYTES)
                    return
                ack = await loop.run_in_executor(self.pool, self.handle_one, framed[: -len(END)])
                writer.write(ack)
                await writer.drain()
        except ConnectionError:
            return
        except Exception:  # one connection's failure must not stop the listener
            log.exception("adt: connection failed")
        finally:
            writer.close()

    async def serve(self, host: str, port: int, ready: Callable[[int], None] | None = None) -> None:
        self._server = await asyncio.start_server(
            self._connection, host, port, limit=MAX_MESSAGE_BYTES
        )
        bound = self._server.sockets[0].getsockname()[1]
        if ready is not None:
            ready(bound)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with self._server:
            await stop.wait()
        self.pool.shutdown(wait=True)  # let a message being applied finish and answer


def _decode(raw: bytes) -> str:
    """HL7 v2 over MLLP in England is ASCII or UTF-8, sometimes Windows-1252 (MSH-18 would say);
    a byte that is not UTF-8 is read as Windows-1252 rather than refusing the message."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")
