"""What a log line may hold (issue 18, item 1): JSON, the request's context, and never an NHS
number or a token, even when a caller passes one by mistake (the redaction is the second line of
defence: the code logs ids and codes only)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from app.observability.logs import (
    NHS_NUMBER_MASK,
    TOKEN_MASK,
    ContextFilter,
    JsonLines,
    Redact,
    bind_actor,
    bind_request,
    redact,
)

VALID = "9434765919"  # Modulus 11 check digit right
NOT_VALID = "9434765918"  # wrong check digit: a ten-digit number that is no NHS number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"patient {VALID} moved", f"patient {NHS_NUMBER_MASK} moved"),
        ("patient 943 476 5919 moved", f"patient {NHS_NUMBER_MASK} moved"),
        ("patient 943-476-5919 moved", f"patient {NHS_NUMBER_MASK} moved"),
        (f"ref {NOT_VALID}", f"ref {NOT_VALID}"),
        (f"order 1{VALID}0", f"order 1{VALID}0"),  # inside a longer number: not one
        (f"request ab{VALID}cd", f"request ab{VALID}cd"),  # inside an id: not one either
        ("token hf_AbCdEf0123456789_xyz used", f"token {TOKEN_MASK} used"),
        ("Authorization: Bearer eyJhbGciOi.J9abc", f"Authorization: {TOKEN_MASK}"),
        ("case 1234 event open", "case 1234 event open"),
    ],
)
def test_nhs_numbers_and_tokens_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLines())
    handler.addFilter(ContextFilter())
    handler.addFilter(Redact())
    logger = logging.getLogger("tests.log_lines")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger, out
    finally:
        logger.removeHandler(handler)
        bind_request(None)


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_line_is_json_with_the_request_context(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = captured
    bind_request("req-1")
    bind_actor(42, "LUHFT")
    logger.info("transition", extra={"event": "transition", "case_id": 7})
    bind_request(None)
    logger.info("after the request")
    first, second = _lines(out)
    assert first["message"] == "transition"
    assert (first["level"], first["logger"]) == ("INFO", "tests.log_lines")
    assert str(first["time"]).endswith("Z")
    assert (first["request_id"], first["user_id"], first["organisation"]) == ("req-1", 42, "LUHFT")
    assert (first["event"], first["case_id"]) == ("transition", 7)
    assert "request_id" not in second
    assert "user_id" not in second


def test_values_passed_by_mistake_are_masked_everywhere(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = captured
    logger.info("looked up %s", VALID, extra={"note": f"nhs {VALID}"})
    try:
        raise ValueError(f"no patient {VALID} with token hf_secretsecret123")
    except ValueError:
        logger.exception("failed")
    written = out.getvalue()
    assert VALID not in written
    assert "hf_secretsecret123" not in written
    first, second = _lines(out)
    assert first["message"] == f"looked up {NHS_NUMBER_MASK}"
    assert first["note"] == f"nhs {NHS_NUMBER_MASK}"
    assert "Traceback" in str(second["exc_info"])  # the traceback is kept, masked
