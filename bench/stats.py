"""Percentiles, run records and the printed table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of the values, or None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Point:
    """One measured configuration: what ran, how fast, how spread."""

    name: str
    clients: int
    ops: int
    seconds: float
    errors: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ops_per_s"] = round(self.ops_per_s, 1)
        return out


def point(
    name: str,
    clients: int,
    latencies_s: Sequence[float],
    seconds: float,
    errors: int = 0,
    **extra: Any,
) -> Point:
    p50, p99 = percentile(latencies_s, 50), percentile(latencies_s, 99)
    return Point(
        name,
        clients,
        len(latencies_s),
        seconds,
        errors,
        round(p50 * 1000, 2) if p50 is not None else None,
        round(p99 * 1000, 2) if p99 is not None else None,
        extra,
    )


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def fmt(value: Any, width: int) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    else:
        text = str(value)
    return text.rjust(width) if not isinstance(value, str) else text.ljust(width)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    widths = [len(h) for h in headers]
    cells = [[fmt(v, 0).strip() for v in row] for row in rows]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for raw, row in zip(rows, cells, strict=True):
        out.append(
            "  ".join(
                c.ljust(w) if isinstance(v, str) else c.rjust(w)
                for c, w, v in zip(row, widths, raw, strict=True)
            )
        )
    return "\n".join(out)
