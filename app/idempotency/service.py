"""Claiming a key at the start of a use case and storing the answer at its end."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.errors import IdempotencyKeyReused
from app.idempotency.repository import IdempotencyRepository
from app.models import IdempotencyRecord


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


class IdempotencyGuard:
    """Used inside one unit of work: `claim()` first, `remember()` just before commit."""

    def __init__(
        self,
        repo: IdempotencyRepository,
        *,
        actor_id: int,
        key: str | None,
        fingerprint: str,
        now: datetime,
        ttl: timedelta,
    ) -> None:
        self.repo, self.actor_id, self.key = repo, actor_id, key
        self.fingerprint, self.now, self.ttl = fingerprint, now, ttl
        self.record: IdempotencyRecord | None = None

    def claim(self) -> StoredResponse | None:
        """None: go ahead. A response: this request was answered before, replay it."""
        if self.key is None:
            return None
        # Try the insert first: a new key (the usual case) costs one statement.
        if self._try_insert():
            return None
        existing = self.repo.find(self.actor_id, self.key)
        if existing is not None and existing.expires_at <= self.now:
            self.repo.delete(existing)
            if self._try_insert():
                return None
            existing = self.repo.find(self.actor_id, self.key)
        assert existing is not None  # noqa: S101 - the insert lost to this row
        return self._replay(existing)

    def _try_insert(self) -> bool:
        assert self.key is not None  # noqa: S101 - only called with a key
        record = IdempotencyRecord(
            actor_id=self.actor_id,
            key=self.key,
            fingerprint=self.fingerprint,
            status_code=None,
            response_body=None,
            response_headers=None,
            created_at=self.now,
            expires_at=self.now + self.ttl,
        )
        if self.repo.try_claim(record):
            self.record = record
            return True
        return False

    def _replay(self, existing: IdempotencyRecord) -> StoredResponse:
        if existing.fingerprint != self.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used for a different request",
                idempotency_key=self.key,
            )
        assert existing.status_code is not None  # noqa: S101 - stored in the same transaction
        return StoredResponse(
            existing.status_code,
            existing.response_body or {},
            dict(existing.response_headers or {}),
            replayed=True,
        )

    def remember(self, response: StoredResponse) -> None:
        if self.record is not None:
            self.record.status_code = response.status_code
            self.record.response_body = response.body
            self.record.response_headers = response.headers
