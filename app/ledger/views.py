"""What the ledger shows: Pareto tables by reason, organisation, pathway or ward, and the
patients behind a row. Sums are exact; each figure is rounded once, here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel

from app.calc.nhs_number import is_valid_nhs_number, normalise_nhs_number
from app.ledger.config import NO_REASON, NO_REASON_LABEL, LedgerConfig
from app.ledger.derive import Share
from app.ledger.service import Ledger

By = Literal["reason", "organisation", "pathway", "ward"]
BY_FIELDS: tuple[By, ...] = ("reason", "organisation", "pathway", "ward")


def money(value: Fraction) -> float:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def days(value: Fraction) -> float:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def exact_sum(values: Iterable[Fraction]) -> Fraction:
    """The exact sum, adding each distinct value once (shares and costs take few values: a
    Fraction addition per share was most of the ledger's time)."""
    counted = Counter((v.numerator, v.denominator) for v in values)  # ints hash fast
    return sum((Fraction(p, q) * n for (p, q), n in counted.items()), Fraction(0))


def cost_of(shares: Iterable[Share]) -> Fraction:
    return exact_sum(s.cost for s in shares if s.cost is not None)


def days_of(shares: Iterable[Share]) -> Fraction:
    return exact_sum(s.share for s in shares)


def reason_label(ledger: Ledger, code: str) -> str | None:
    return NO_REASON_LABEL if code == NO_REASON else ledger.labels.get(code)


def label_of(ledger: Ledger, config: LedgerConfig, by: By, key: str) -> str | None:
    if by == "reason":
        return reason_label(ledger, key)
    if by == "organisation":
        return config.label_of(key)
    return key


def totals(shares: Sequence[Share]) -> dict[str, Any]:
    return {
        "bed_days": days(days_of(shares)),
        "cost": money(cost_of(shares)),
        "uncosted_bed_days": days(days_of(s for s in shares if s.cost is None)),
        "patients": len({s.case_id for s in shares}),
    }


def pareto(ledger: Ledger, config: LedgerConfig, by: By) -> list[dict[str, Any]]:
    """Rows by `by`, most bed days first (then cost, then key), with each row's share of the
    bed days and the cumulative share."""
    groups: dict[str, list[Share]] = {}
    for s in ledger.shares:
        groups.setdefault(str(getattr(s, by)), []).append(s)
    whole = days_of(ledger.shares)
    sums = {key: (days_of(shares), cost_of(shares)) for key, shares in groups.items()}
    ranked = sorted(groups.items(), key=lambda kv: (-sums[kv[0]][0], -sums[kv[0]][1], kv[0]))
    rows, running = [], Fraction(0)
    for key, shares in ranked:
        bed_days, cost = sums[key]
        running += bed_days
        row = {
            "key": key,
            "label": label_of(ledger, config, by, key),
            "bed_days": days(bed_days),
            "cost": money(cost),
            "patients": len({s.case_id for s in shares}),
            "percent": days(100 * bed_days / whole) if whole else None,
            "cumulative_percent": days(100 * running / whole) if whole else None,
        }
        if by == "reason":
            row["family"] = shares[0].family
        rows.append(row)
    return rows


def summary(ledger: Ledger, config: LedgerConfig, by: By) -> dict[str, Any]:
    return {
        **header(ledger, config),
        "by": by,
        "totals": totals(ledger.shares),
        "rows": pareto(ledger, config, by),
    }


def header(ledger: Ledger, config: LedgerConfig) -> dict[str, Any]:
    used = sorted({s.tariff for s in ledger.shares if s.tariff is not None})
    return {
        "from": ledger.first.isoformat(),
        "to": ledger.last.isoformat(),
        "basis": ledger.basis,
        "organisation": ledger.organisation,
        "as_at": ledger.as_at.isoformat(),
        "final": ledger.final,
        "attribution": config.attribution,
        "currency": "GBP",
        "tariffs": [tariff_json(config, v) for v in used],
    }


def tariff_json(config: LedgerConfig, version: str) -> dict[str, Any]:
    t = config.tariff(version)
    assert t is not None  # noqa: S101 - a share names only a configured version
    return {
        "version": t.version,
        "effective_from": t.effective_from.isoformat(),
        "cost_per_bed_day": str(t.cost_per_bed_day),
        "currency": t.currency,
        "status": t.status,
        "source": t.source,
        "url": str(t.url) if t.url else None,
    }


class PatientReason(BaseModel):
    reason: str
    label: str | None
    organisation: str
    bed_days: float
    cost: float


class LedgerPatient(BaseModel):
    case_id: int
    nhs_number: str | None
    site: str
    wards: list[str]
    pathways: list[str]
    first_day: date
    last_day: date
    bed_days: float
    cost: float
    reasons: list[PatientReason]


class LedgerPatients(BaseModel):
    header: dict[str, Any]
    filters: dict[str, str | None]
    count: int
    totals: dict[str, Any]
    items: list[LedgerPatient]


def patients(ledger: Ledger, shares: Sequence[Share]) -> list[LedgerPatient]:
    """One row per patient of `shares`, most bed days first."""
    by_case: dict[int, list[Share]] = {}
    for s in shares:
        by_case.setdefault(s.case_id, []).append(s)
    rows = []
    for case_id, mine in by_case.items():
        reasons: dict[tuple[str, str], list[Share]] = {}
        for s in mine:
            reasons.setdefault((s.reason, s.organisation), []).append(s)
        rows.append(
            (
                days_of(mine),
                LedgerPatient(
                    case_id=case_id,
                    nhs_number=_nhs(ledger.patients.get(case_id)),
                    site=mine[0].site,
                    wards=sorted({s.ward for s in mine}),
                    pathways=sorted({s.pathway for s in mine}),
                    first_day=min(s.day for s in mine),
                    last_day=max(s.day for s in mine),
                    bed_days=days(days_of(mine)),
                    cost=money(cost_of(mine)),
                    reasons=[
                        PatientReason(
                            reason=reason,
                            label=reason_label(ledger, reason),
                            organisation=org,
                            bed_days=days(days_of(group)),
                            cost=money(cost_of(group)),
                        )
                        for (reason, org), group in sorted(reasons.items())
                    ],
                ),
            )
        )
    rows.sort(key=lambda r: (-r[0], r[1].case_id))
    return [row for _, row in rows]


def _nhs(ref: str | None) -> str | None:
    if ref is None or not is_valid_nhs_number(ref):
        return None  # a local reference, not an NHS number
    return normalise_nhs_number(ref)


def explain(ledger: Ledger, shares: Sequence[Share]) -> list[dict[str, Any]]:
    """Each share as derived: the day, the reason and its share of the day (exact, and
    rounded), the organisation, pathway, ward, tariff and cost; in day and reason order."""
    return [
        {
            "day": s.day.isoformat(),
            "reason": s.reason,
            "label": reason_label(ledger, s.reason),
            "family": s.family,
            "share": str(s.share),
            "bed_days": days(s.share),
            "organisation": s.organisation,
            "pathway": s.pathway,
            "ward": s.ward,
            "tariff": s.tariff,
            "cost": money(s.cost) if s.cost is not None else None,
        }
        for s in sorted(shares, key=lambda s: (s.day, s.reason))
    ]
