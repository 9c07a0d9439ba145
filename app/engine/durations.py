"""ISO 8601 durations as pathway files write them (P28D, PT2H, P6W, P1DT12H)."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

_PATTERN = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


# A pathway names a handful of durations, read on every clock start (the spec keeps the text).
@lru_cache(maxsize=512)
def parse_duration(text: str) -> timedelta:
    match = _PATTERN.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"not an ISO 8601 duration (for example PT2H or P28D): {text!r}")
    parts = {name: int(value) for name, value in match.groupdict().items() if value}
    return timedelta(**parts)
