"""Bearer tokens: random, shown once, stored only as a SHA-256 hash.

Tokens carry 256 bits of randomness, so a fast hash is enough: there is nothing to brute-force,
unlike a password.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "hf_"  # noqa: S105 - a visible prefix, not a secret


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
