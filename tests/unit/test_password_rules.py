"""The password rules and the issued passwords, without a database."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import pytest
from pwdlib import PasswordHash

from app.auth.passwords import (
    COMMON_PASSWORDS,
    HASHER,
    ISSUED_ALPHABET,
    MAX_LENGTH,
    MIN_LENGTH,
    AccountLocked,
    IssuedPassword,
    WeakPassword,
    check_strength,
    new_password,
)
from app.errors import Unauthorized

ISSUED = re.compile(rf"[{ISSUED_ALPHABET}]{{5}}(-[{ISSUED_ALPHABET}]{{5}}){{3}}")


def test_issued_passwords_are_four_readable_groups_of_at_least_80_bits() -> None:
    made = [new_password() for _ in range(500)]
    assert all(ISSUED.fullmatch(p) for p in made), made[:3]
    assert len(set(made)) == len(made)
    assert 20 * math.log2(len(set(ISSUED_ALPHABET))) >= 80
    assert not set("0o1li") & set(ISSUED_ALPHABET)  # nothing to misread
    # Every character of the alphabet turns up (a narrowed choice would lose entropy).
    assert set("".join(made).replace("-", "")) == set(ISSUED_ALPHABET)
    for p in made[:20]:
        check_strength(p, username="jo.bloggs")  # an issued password passes the rules


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("a" * (MIN_LENGTH - 1), "at least 12"),
        ("é" * (MAX_LENGTH + 1), "at most 200"),
        ("Jo.Bloggs.Ward", "not be the username"),
        ("PASSWORD1234", "first anyone guessing"),
        ("1q2w3e4r5t6y", "first anyone guessing"),
    ],
)
def test_weak_passwords_are_refused_saying_why(password: str, why: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        check_strength(password, username="jo.bloggs.ward")
    assert why in refused.value.detail
    assert (refused.value.status_code, refused.value.code) == (422, "weak_password")


@pytest.mark.parametrize(
    "password",
    [
        "a" * MIN_LENGTH,  # length is the rule, not variety (NCSC: no composition rules)
        "correct horse battery staple",
        "ünïcödé wörds ok",
        "x" * MAX_LENGTH,
    ],
)
def test_long_enough_uncommon_passwords_are_accepted(password: str) -> None:
    check_strength(password, username="jo.bloggs")


def test_the_deny_list_is_of_passwords_the_length_rule_lets_through() -> None:
    assert all(len(p) >= MIN_LENGTH and p == p.casefold() for p in COMMON_PASSWORDS)


def test_a_locked_account_says_until_when_in_uk_time() -> None:
    summer = AccountLocked(datetime(2026, 7, 1, 13, 5, tzinfo=UTC))
    assert isinstance(summer, Unauthorized)
    assert (summer.code, summer.status_code) == ("account_locked", 401)
    assert "14:05 on 01 July 2026 (UK time)" in summer.detail  # BST
    assert summer.extra == {"locked_until": "2026-07-01T13:05:00+00:00"}
    winter = AccountLocked(datetime(2026, 12, 1, 13, 5, tzinfo=UTC))
    assert "13:05 on 01 December 2026" in winter.detail


def test_the_hash_is_argon2id_and_an_issued_password_hides_from_repr() -> None:
    hashed = HASHER.hash("correct horse battery staple")
    # pwdlib's recommended parameters (RFC 9106's second option: 64 MiB, 3 passes, 4 lanes).
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    recommended = PasswordHash.recommended().hash("x")
    assert recommended.split("$")[:4] == hashed.split("$")[:4]
    assert HASHER.verify("correct horse battery staple", hashed)
    assert not HASHER.verify("correct horse battery stapler", hashed)
    issued = IssuedPassword("jo", "LUHFT", "k7mzq-3wtrp-hx9ad-u2ncs", True)
    assert "k7mzq" not in repr(issued)
