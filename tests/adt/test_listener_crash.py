"""SIGKILL the MLLP listener mid-stream (issue #15): nothing acknowledged is lost, nothing is
applied twice.

`homefirst adt listen` runs as a process of its own (its own process group) on a database of
this test's own, SQLite and PostgreSQL. Two connections of a third-party MLLP client
(`hl7.client.MLLPClient`) stream admissions, then transfers, then updates (A01, A02, A08) of
their own patients, each waiting for its ACK before the next message, as a PAS interface engine
does. Once enough ACKs have come back, this thread SIGKILLs the listener while the senders are
mid-stream, so a message is being parsed, applied or committed at that instant. Then:

- every message that got AA is in the database: its log row (applied) and its one event on the
  patient's case; and no message is half there (a log row without its event, or an event without
  its log row);
- the listener is started again; messages that were acknowledged are sent again (an engine that
  lost the ACKs would): each answers AA again and writes nothing; then every message that got no
  ACK is sent again, in the order first sent: each answers AA;
- in the end every message is applied exactly once: one log row per control id, one event per
  message, one case per patient with its three events, the case on the ward the last transfer
  named.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import hl7
import pytest
from hl7.client import MLLPClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.adt import sample
from app.db import make_engine, make_sessionmaker
from app.models import Case, CaseEvent
from app.models.adt import APPLIED, AdtMessage
from app.timeutil import LONDON
from tests.conftest import migrated_database_url
from tests.servers import PROJECT_ROOT, process_env

PATIENTS = 100  # 300 messages: an admission, a transfer and an update of each patient
STREAMS = 2  # connections sending at once, each with its own patients
KILL_AFTER = 120  # ACKs (all connections together) before the SIGKILL
FIRST = 410_000  # test NHS numbers 999410...: patients of this test only
SENDER = "PAS|RVY"  # MSH-3|MSH-4 of the rvy-pas interface (adt-interfaces.yaml)
LISTEN = ("-m", "app.cli", "adt", "listen", "--host", "127.0.0.1", "--port", "0", "--no-migrate")
READY = re.compile(r"HomeFirst ADT listener on 127\.0\.0\.1:(\d+) \(MLLP\)")
START, END = b"\x0b", b"\x1c\r"
FROM_MESSAGE = re.compile(r"\(interface rvy-pas, message (\S+)\)$")  # the feed's event reason


@dataclass(frozen=True)
class Sent:
    """One message of a stream and what it must do to the patient's discharge case."""

    control_id: str
    raw: str
    nhs: str
    event: str  # the one event it appends: open, ward_transfer or update_details


def _stream(patients: list[tuple[int, str]], now: datetime) -> list[Sent]:
    """Admissions of these patients, then their transfers, then updates with an expected
    discharge date (in that order, as a ward's day goes)."""
    edd = (now.astimezone(LONDON) + timedelta(days=3)).strftime("%Y%m%d")
    out = []
    for trigger, hours_ago, event in (
        ("A01", 3, "open"),
        ("A02", 2, "ward_transfer"),
        ("A08", 1, "update_details"),
    ):
        for i, nhs in patients:
            at = (now - timedelta(hours=hours_ago) + timedelta(seconds=i)).astimezone(LONDON)
            ts = at.strftime("%Y%m%d%H%M%S")
            cid = f"KILL-{trigger}-{i:04d}"
            ward = "W11^^BED 1^SDGH" if trigger == "A01" else "W15^^BED 2^SDGH"
            pv1 = ["PV1", "1", "I", ward, *[""] * 40, ts]  # PV1-44: admitted at
            segments = [
                f"MSH|^~\\&|PAS|RVY|HOMEFIRST|SEFTON|{ts}||ADT^{trigger}^ADT_A01|{cid}|P|2.4",
                f"EVN|{trigger}|{ts}",
                f"PID|1||{nhs}^^^NHS^NH~RVY{FIRST + i:07d}^^^RVY^MR||CRASH^PATIENT||19400101|U",
                "|".join(pv1),
            ]
            if trigger == "A08":
                segments.append(f"PV2|||||||||{edd}")
            out.append(Sent(cid, "\r".join(segments), nhs, event))
    return out


class Listener:
    """`homefirst adt listen --port 0` in its own process group; each start picks a new port."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.env = process_env(database_url)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> int:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, *LISTEN],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (found := READY.search(self.log_text()[offset:])) is not None:
                return int(found.group(1))
            assert self.process.poll() is None, f"the listener exited:\n{self.log_text()}"
            time.sleep(0.05)
        raise AssertionError(f"the listener did not start:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL, as a crash: no clean shutdown, no ACK for what is in flight."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _ack(client: MLLPClient, raw: str) -> tuple[str, str] | None:
    """(MSA-1, MSA-2) of the message's ACK, or None when the connection died first."""
    try:
        data = client.send_message(raw)
        while data and not data.endswith(END):  # the ACK arrived in pieces
            more = client.socket.recv(4096)
            if not more:
                return None
            data += more
    except OSError:  # reset, broken pipe, or no answer within the socket's timeout
        return None
    if not data:
        return None
    msa = hl7.parse(data.strip(START + END).decode()).segment("MSA")
    return str(msa[1]), str(msa[2])


@dataclass
class Sender:
    """One connection streaming its messages until the listener dies."""

    messages: list[Sent]
    port: int
    tally: threading.Condition
    acks: list[int]  # shared: ACKs received by every sender
    answered: dict[str, str] = field(default_factory=dict)  # control id -> MSA-1
    attempted: int = 0
    problems: list[str] = field(default_factory=list)

    def run(self) -> None:
        try:
            with MLLPClient("127.0.0.1", self.port) as client:
                client.socket.settimeout(60)
                for sent in self.messages:
                    self.attempted += 1
                    answer = _ack(client, sent.raw)
                    if answer is None:
                        return  # the listener was killed
                    if answer[1] != sent.control_id:
                        self.problems.append(f"{sent.control_id}: ACK for {answer[1]}")
                    self.answered[sent.control_id] = answer[0]
                    with self.tally:
                        self.acks[0] += 1
                        self.tally.notify_all()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.problems.append(repr(exc))

    @property
    def not_acknowledged(self) -> list[Sent]:
        return [m for m in self.messages if m.control_id not in self.answered]


def _resend(port: int, messages: list[Sent]) -> dict[str, tuple[str, str] | None]:
    with MLLPClient("127.0.0.1", port) as client:
        client.socket.settimeout(60)
        return {m.control_id: _ack(client, m.raw) for m in messages}


def _logged(sessions: sessionmaker[Session]) -> dict[str, list[AdtMessage]]:
    with sessions() as s:
        rows = s.scalars(select(AdtMessage).where(AdtMessage.sender == SENDER)).all()
    by_id: dict[str, list[AdtMessage]] = {}
    for row in rows:
        by_id.setdefault(row.control_id, []).append(row)
    return by_id


def _feed_events(sessions: sessionmaker[Session]) -> dict[str, list[tuple[int, str]]]:
    """The events the feed wrote, by the message named in their reason: [(case id, event)]."""
    with sessions() as s:
        rows = s.execute(
            select(CaseEvent.case_id, CaseEvent.event, CaseEvent.reason).where(
                CaseEvent.reason.like("PAS %")
            )
        ).all()
    out: dict[str, list[tuple[int, str]]] = {}
    for case_id, event, reason in rows:
        found = FROM_MESSAGE.search(reason or "")
        assert found is not None, f"a feed event whose reason names no message: {reason!r}"
        out.setdefault(found.group(1), []).append((case_id, event))
    return out


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(AdtMessage)) or 0,
            s.scalar(select(func.count()).select_from(CaseEvent)) or 0,
            s.scalar(select(func.count()).select_from(Case)) or 0,
        )


def _cases(sessions: sessionmaker[Session]) -> dict[int, Case]:
    with sessions() as s:
        return {c.id: c for c in s.scalars(select(Case).where(Case.workflow_key == "discharge"))}


def _check_consistent(
    sessions: sessionmaker[Session], by_id: dict[str, Sent]
) -> tuple[dict[str, list[AdtMessage]], dict[str, list[tuple[int, str]]]]:
    """Every logged message has exactly its one event on its patient's case, and every event
    from the feed has its log row: nothing half-written, nothing twice."""
    logged, events = _logged(sessions), _feed_events(sessions)
    cases = _cases(sessions)
    assert set(logged) == set(events), (
        f"log rows without their event: {sorted(set(logged) - set(events))}; "
        f"events without their log row: {sorted(set(events) - set(logged))}"
    )
    for cid, rows in logged.items():
        assert len(rows) == 1, f"{cid}: {len(rows)} log rows"
        row, sent = rows[0], by_id[cid]
        assert (row.outcome, row.ack_code) == (APPLIED, "AA"), (cid, row.outcome, row.error_text)
        assert events[cid] == [(row.case_id, sent.event)], (cid, events[cid], row.case_id)
        assert row.case_id in cases, cid
        assert cases[row.case_id].patient_ref == sent.nhs, cid
    return logged, events


def test_sigkill_mid_stream_loses_no_acknowledged_message_and_applies_each_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = migrated_database_url(backend, tmp_path, request)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    numbers = list(enumerate(sample.synthetic_nhs_numbers(FIRST, PATIENTS)))
    streams = [_stream(numbers[k::STREAMS], now) for k in range(STREAMS)]
    by_id = {m.control_id: m for stream in streams for m in stream}
    assert len(by_id) == 3 * PATIENTS
    listener = Listener(url, tmp_path / "listener.log")
    try:
        # 1. Stream on two connections; SIGKILL the listener once KILL_AFTER ACKs are back.
        port = listener.start()
        tally, acks = threading.Condition(), [0]
        senders = [Sender(stream, port, tally, acks) for stream in streams]
        threads = [threading.Thread(target=s.run, daemon=True) for s in senders]
        for t in threads:
            t.start()
        with tally:
            assert tally.wait_for(lambda: acks[0] >= KILL_AFTER, timeout=300), acks[0]
        listener.kill()
        for t in threads:
            t.join(timeout=90)
            assert not t.is_alive(), "a sender still waits for an ACK from a killed listener"
        assert [p for s in senders for p in s.problems] == []
        answered = {cid: code for s in senders for cid, code in s.answered.items()}
        unacknowledged = [m for s in senders for m in s.not_acknowledged]
        assert len(answered) >= KILL_AFTER, "the kill came before KILL_AFTER ACKs"
        assert unacknowledged, "every message was acknowledged: the kill was not mid-stream"
        assert set(answered.values()) == {"AA"}

        # 2. Every AA is durable, and nothing is half there.
        logged, _ = _check_consistent(sessions, by_id)
        assert set(answered) <= set(logged), sorted(set(answered) - set(logged))
        in_flight = [m.control_id for m in unacknowledged if m.control_id in logged]
        # (A message committed just before the kill but never acknowledged is allowed: the
        # sender sends it again and is answered from the log below.)
        assert len(in_flight) <= STREAMS, in_flight

        # 3. Restart. Messages already acknowledged, sent again: AA again, nothing written.
        port = listener.start()
        again = [m for s in senders for m in s.messages[: len(s.answered)][::10]]
        again += [s.messages[len(s.answered) - 1] for s in senders if s.answered]
        before = _counts(sessions)
        answers = _resend(port, again)
        assert answers == {m.control_id: ("AA", m.control_id) for m in again}
        assert _counts(sessions) == before, "a repeated message wrote something"

        # 4. Everything not acknowledged, sent again in the order first sent: applied once.
        answers = _resend(port, unacknowledged)
        assert answers == {m.control_id: ("AA", m.control_id) for m in unacknowledged}
        listener.stop()

        # 5. Exactly once, all of it.
        logged, events = _check_consistent(sessions, by_id)
        assert set(logged) == set(by_id)
        cases = _cases(sessions)
        per_patient = Counter(c.patient_ref for c in cases.values())
        assert per_patient == Counter({nhs: 1 for _, nhs in numbers})
        per_case = Counter(case_id for found in events.values() for case_id, _ in found)
        with sessions() as s:
            stored = dict(
                s.execute(select(CaseEvent.case_id, func.count()).group_by(CaseEvent.case_id)).all()
            )
        assert stored == per_case == Counter(dict.fromkeys(cases, 3))
        edd = (now.astimezone(LONDON) + timedelta(days=3)).date()
        for case in cases.values():
            assert case.attributes["ward"] == "Ward 15"
            assert case.attributes["bed"] == "BED 2"
            assert date.fromisoformat(case.attributes["expected_discharge_date"]) == edd
        assert "Traceback" not in listener.log_text()
    finally:
        listener.stop()
        engine.dispose()
