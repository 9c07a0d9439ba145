"""A sample ward day of ADT messages, as a PAS would send them (`homefirst adt sample-day`):
admissions, transfers, an update with an expected discharge date, discharges, a cancelled
admission, a cancelled discharge, a merge, a repeat, a malformed message, an unknown sender and
an invalid NHS number. Times run up to a few minutes before `now`, so nothing is in the future;
control ids carry the day (and `first`), so sending it twice the same day repeats messages
(acknowledged, not applied twice).

Patients are test NHS numbers (999 range, Modulus 11 valid). With `demo_patient`, one message
moves a patient of the demo data (9990000050, ready for discharge on Southport's Ward 14b) to
Ward 15, which the RFD list then shows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from app.calc.nhs_number import nhs_number_check_digit
from app.timeutil import LONDON

DEMO_RFD_PATIENT = "9990000050"


def synthetic_nhs_numbers(start: int, count: int) -> list[str]:
    """`count` valid NHS numbers from 999<start>, skipping the nine-digit stems with no check
    digit."""
    found: list[str] = []
    stem = 999_000_000 + start
    while len(found) < count:
        digit = nhs_number_check_digit(str(stem))
        if digit is not None:
            found.append(f"{stem}{digit}")
        stem += 1
    return found


@dataclass(frozen=True)
class Patient:
    nhs: str
    local: str
    name: str


def sample_day(now: datetime, *, demo_patient: bool = True, first: int = 1_200) -> list[str]:
    """The day's messages in the order the PAS sends them (ER7, segments joined by CR)."""
    p = [
        Patient(nhs, f"RVY{first + i:07d}", name)
        for i, (nhs, name) in enumerate(
            zip(
                synthetic_nhs_numbers(first, 6),
                ["ADAMS^ALICE", "BROWN^BILL", "CLARKE^CAROL", "DAVIES^DAN", "EVANS^EVE", "FOX^FAY"],
                strict=True,
            )
        )
    ]
    # Bill Brown is admitted under a temporary hospital number that the A40 later merges into
    # his permanent one.
    bill_before_merge = replace(p[1], local="RVY9999999")
    day = now.astimezone(LONDON).strftime("%Y%m%d")
    at = _Times(now)
    m = _Writer(f"WD{day}{first % 1_000_000:06d}")
    out = [
        m.adt("A01", p[0], "W11^^BED 3^SDGH", at(12), edd=at.day_after(3)),
        m.adt("A01", bill_before_merge, "W14B^^BED 7^SDGH", at(11.5)),
        m.adt("A01", p[2], "W2^^BED 1^ODGH", at(11)),
        m.adt("A01", p[3], "W12^^BED 5^AUH", at(10.5), facility="REM"),
        m.adt("A01", p[4], "W11^^BED 9^SDGH", at(10)),
        m.adt("A02", p[0], "W15^^BED 2^SDGH", at(9)),
        m.adt("A08", bill_before_merge, "W14B^^BED 7^SDGH", at(8), edd=at.day_after(2)),
        m.adt("A03", p[2], "W2^^BED 1^ODGH", at(7), disposition="19"),
        m.adt("A11", p[3], "W12^^BED 5^AUH", at(6), facility="REM"),
        m.adt("A03", p[4], "W11^^BED 9^SDGH", at(5), disposition="19"),
        m.adt("A13", p[4], "W11^^BED 9^SDGH", at(4.5)),
        m.adt("A40", p[1], "W14B^^BED 7^SDGH", at(4), merged="RVY9999999"),
    ]
    out.append(out[5])  # the transfer again, as an engine re-sends after a lost ACK
    out += [
        m.adt("A01", p[5], "W11^^^SDGH", at(3), control_id=""),  # malformed: no MSH-10
        m.adt("A01", p[5], "W1^^^XX", at(2.5), facility="XYZ"),  # unknown sender
        m.adt(
            "A01", Patient("9434765918", "RVY0000001", "WRONG^NUMBER"), "W11^^^SDGH", at(2)
        ),  # the NHS number fails the Modulus 11 check
    ]
    if demo_patient:
        demo = Patient(DEMO_RFD_PATIENT, "", "DEMO^PATIENT")
        out.append(m.adt("A02", demo, "W15^^BED 8^SDGH", at(0.2)))
    return out


class _Times:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self, hours_ago: float) -> datetime:
        return self.now - timedelta(hours=hours_ago)

    def day_after(self, days: int) -> str:
        return (self.now.astimezone(LONDON) + timedelta(days=days)).strftime("%Y%m%d")


class _Writer:
    def __init__(self, tag: str) -> None:
        self.tag, self.seq = tag, 0

    def adt(
        self,
        trigger: str,
        patient: Patient,
        location: str,
        at: datetime,
        *,
        facility: str = "RVY",
        edd: str | None = None,
        disposition: str = "",
        merged: str | None = None,
        control_id: str | None = None,
    ) -> str:
        self.seq += 1
        # At most 20 characters (MSH-10 in 2.4): the day, the first patient and a sequence.
        cid = f"{self.tag}{self.seq:04d}" if control_id is None else control_id
        ts = at.astimezone(LONDON).strftime("%Y%m%d%H%M%S")
        ids = f"{patient.nhs}^^^NHS^NH"
        if patient.local:
            ids += f"~{patient.local}^^^{facility}^MR"
        pv1 = ["PV1", "1", "I", location] + [""] * 32 + [disposition] + [""] * 7 + [ts]
        segments = [
            f"MSH|^~\\&|PAS|{facility}|HOMEFIRST|SEFTON|{ts}||ADT^{trigger}^ADT_A01|{cid}|P|2.4",
            f"EVN|{trigger}|{ts}",
            f"PID|1||{ids}||{patient.name}||19400101|U",
        ]
        if merged:
            segments.append(f"MRG|{merged}^^^{facility}^MR")
        segments.append("|".join(pv1))
        if edd:
            segments.append(f"PV2|||||||||{edd}")
        return "\r".join(segments)
