"""A per-token rate limit: a token bucket for each bearer token, kept in process memory.

The bucket is keyed by the SHA-256 of the token (the same hash the database stores), never the
token itself. Requests without a token are not limited here: they are refused with 401 before
they touch any data. With several processes (`--workers N`, or several hosts) each process keeps
its own buckets, so a client can reach N times the limit in total; the limit protects each
process from one runaway client rather than enforcing an exact quota.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from app.auth.tokens import hash_token
from app.problems import problem
from app.security.asgi import ASGIApp, Receive, Scope, Send, cookie, header
from app.security.cookies import SESSION_COOKIE


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """`take(key)` returns 0 when a request may go ahead, else the seconds until it may."""

    def __init__(
        self,
        *,
        per_minute: int,
        burst: int,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(max(burst, 1))
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(self.capacity, now)
                self._buckets[key] = bucket
                if len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)  # forget the least recently seen
            else:
                self._buckets.move_to_end(key)
                refill = (now - bucket.updated) * self.rate
                bucket.tokens = min(self.capacity, bucket.tokens + refill)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate


class RateLimit:
    """Pure ASGI middleware: 429 `rate_limited` with `Retry-After` once a bucket is empty."""

    def __init__(self, app: ASGIApp, *, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _token(scope)
        if token:
            wait = self.buckets.take(hash_token(token))
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                response = problem(
                    429,
                    "rate_limited",
                    "Too many requests",
                    f"This token has sent too many requests; retry after {seconds} seconds.",
                    {"retry_after_seconds": seconds},
                    headers={"Retry-After": str(seconds)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _token(scope: Scope) -> str | None:
    auth = header(scope, b"authorization")
    if auth:
        scheme, _, credentials = auth.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    if not scope.get("path", "").startswith("/api/"):  # the screens: a signed-in browser
        return cookie(scope, SESSION_COOKIE)
    return None
