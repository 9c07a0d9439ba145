"""ADT messages for the tests, written as a PAS writes them."""

from __future__ import annotations

import itertools
import os
import random
import uuid
from datetime import datetime, timedelta

from app.adt.sample import synthetic_nhs_numbers as _nhs_numbers
from app.timeutil import LONDON, utcnow

# NHS numbers 999 6xx xxx to 999 8xx xxx are the ADT tests' own (other tests and the demo use
# lower ones); each test process takes its own half, and within it blocks of 20 stems in turn
# from a random start, so no two ADT tests of a run share a patient (on PostgreSQL every test of
# a run shares one database, and a test reads a patient's cases by NHS number).
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % 2
_FIRST, _BLOCKS = 600_000 + _WORKER * 150_000, 150_000 // 20
_NEXT_BLOCK = itertools.count(random.SystemRandom().randrange(_BLOCKS))


def patients(count: int) -> list[str]:
    """`count` valid NHS numbers no other test of the run uses (at most 15 at a time)."""
    if count > 15:
        raise ValueError("a block of 20 stems holds at least 15 valid NHS numbers")
    block = next(_NEXT_BLOCK) % _BLOCKS
    return _nhs_numbers(_FIRST + block * 20, count)


def hours_ago(hours: float) -> datetime:
    return utcnow() - timedelta(hours=hours)


def adt(
    trigger: str,
    nhs: str | None,
    *,
    at: datetime,
    location: str | None = "W11^^B1^SDGH",
    local: str | None = None,
    facility: str = "RVY",
    disposition: str = "",
    edd: str | None = None,
    merged: str | None = None,
    control_id: str | None = None,
    born: str = "",
) -> str:
    ts = at.astimezone(LONDON).strftime("%Y%m%d%H%M%S")
    ids = [f"{nhs}^^^NHS^NH"] if nhs else []
    if local:
        ids.append(f"{local}^^^{facility}^MR")
    pv1 = ["PV1", "1", "I", location or "", *[""] * 32, disposition, *[""] * 7, ts]
    segments = [
        f"MSH|^~\\&|PAS|{facility}|HOMEFIRST|SEFTON|{ts}||ADT^{trigger}^ADT_A01|"
        f"{control_id or uuid.uuid4().hex[:20]}|P|2.4",
        f"EVN|{trigger}|{ts}",
        f"PID|1||{'~'.join(ids)}||TEST^PATIENT||{born}",
    ]
    if merged:
        segments.append(f"MRG|{merged}")
    segments.append("|".join(pv1))
    if edd:
        segments.append(f"PV2|||||||||{edd}")
    return "\r".join(segments)
