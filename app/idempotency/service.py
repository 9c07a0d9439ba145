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


class KeyRaced(Exception):  # noqa: N818 - a signal between the guard and its use case
    """Another request with the same key committed its answer while this one ran."""


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
    """Used inside one unit of work, one of two ways. Opening a case: `claim()` first (a row
    that makes a concurrent twin wait), `remember()` just before commit. A transition, whose
    case lock already serialises twins: the lock statement finds an earlier answer
    (`replay_stored`), and `store()` writes key and answer in one statement at the end."""

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

    # -- the transition's way: look up with the case's lock, store once answered ----------------
    def replay_stored(self, record_id: int) -> StoredResponse | None:
        """The earlier answer to this key (found with the case's lock), or None when it has
        expired (then it is removed and this request goes ahead)."""
        existing = self.repo.get(record_id)
        if existing is None:
            return None
        if existing.expires_at <= self.now:
            self.repo.delete(existing)
            return None
        return self._replay(existing)

    def replay_committed(self) -> StoredResponse | None:
        """The answer to this key as committed now (a fresh read), if there is one."""
        assert self.key is not None  # noqa: S101 - only asked with a key
        existing = self.repo.find(self.actor_id, self.key)
        if existing is None:
            return None
        return self.replay_stored(existing.id)

    def store(self, response: StoredResponse) -> None:
        """Keep the answer under the key, in the transaction that made it. Raises `KeyRaced`
        when a concurrent request with the same key committed first: the caller rolls back and
        answers with `answer_after_race`."""
        if self.key is None:
            return
        stored = self.repo.insert_answered(
            {
                "actor_id": self.actor_id,
                "key": self.key,
                "fingerprint": self.fingerprint,
                "status_code": response.status_code,
                "response_body": response.body,
                "response_headers": response.headers,
                "created_at": self.now,
                "expires_at": self.now + self.ttl,
            }
        )
        if not stored:
            raise KeyRaced(self.key)

    def answer_after_race(self) -> StoredResponse:
        """In a fresh transaction after `KeyRaced`: the winner's answer, or 422 when the key
        came with another request."""
        assert self.key is not None  # noqa: S101 - only raced with a key
        existing = self.repo.find(self.actor_id, self.key)
        assert existing is not None  # noqa: S101 - the insert lost to this committed row
        return self._replay(existing)

    def remember(self, response: StoredResponse) -> None:
        if self.record is not None:
            self.record.status_code = response.status_code
            self.record.response_body = response.body
            self.record.response_headers = response.headers
