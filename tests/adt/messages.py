"""ADT messages for the tests, written as a PAS writes them."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

from app.adt.sample import synthetic_nhs_numbers as _nhs_numbers
from app.timeutil import LONDON, utcnow


def patients(count: int) -> list[str]:
    """`count` valid NHS numbers no other test of the run uses."""
    return _nhs_numbers(random.SystemRandom().randrange(100_000, 900_000, 20), count)


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
