"""Structured logs: one JSON object a line, on standard error (or `LOG_FILE`).

Every line carries the time (UTC, ISO 8601), level, logger and message, the fields the caller
passed in `extra`, and, while a request is being served, its request id and the signed-in user's
id and organisation (bound by `bind_request` and `bind_actor`, held in context variables so that
each request and worker thread sees its own). Formatting is python-json-logger's.

What never goes into a line: an NHS number, a token, free text from a patient's record. Callers
log ids, codes and counts only; as a second line of defence `Redact` masks, in the message and
in every string field, a ten-digit number that passes the NHS number check (Modulus 11, with or
without spaces) and anything shaped like a HomeFirst token (`hf_...`) or a bearer credential.

The process that serves or works configures logging once (`configure_logging`, or uvicorn's
`log_config=logging_config(...)` so that each of its workers does); importing the application
configures nothing.
"""

from __future__ import annotations

import logging
import logging.config
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from app.calc.nhs_number import is_valid_nhs_number


@dataclass
class _Request:
    """The request being served. Mutable and shared: a dependency that runs in a copy of the
    context (a worker thread, a middleware's task) binds the user on the same object the
    request's own log line reads."""

    request_id: str
    user: tuple[int, str] | None = None


_current: ContextVar[_Request | None] = ContextVar("homefirst_request", default=None)


def bind_request(request_id: str | None) -> None:
    """The request being served in this context (None when it is done)."""
    _current.set(_Request(request_id) if request_id is not None else None)


def bind_actor(user_id: int, organisation: str) -> None:
    """Who the request is from, once authenticated (an id and an organisation code, no name)."""
    request = _current.get()
    if request is not None:
        request.user = (user_id, organisation)


def current_request_id() -> str | None:
    request = _current.get()
    return request.request_id if request is not None else None


def current_user() -> tuple[int, str] | None:
    request = _current.get()
    return request.user if request is not None else None


class ContextFilter(logging.Filter):
    """Adds the request id, user id and organisation of the context to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _current.get()
        if request is None:
            return True
        if not hasattr(record, "request_id"):
            record.request_id = request.request_id
        if request.user is not None and not hasattr(record, "user_id"):
            record.user_id, record.organisation = request.user
        return True


# Ten digits, possibly written 3-3-4 with spaces or hyphens, standing alone: not inside a longer
# run of letters and digits (a request id, a hex digest, a longer number).
NHS_SHAPED = re.compile(r"(?<![A-Za-z0-9])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?![A-Za-z0-9])")
TOKEN_SHAPED = re.compile(r"\bhf_[A-Za-z0-9_-]{8,}|(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}")
NHS_NUMBER_MASK = "[nhs-number]"
TOKEN_MASK = "[token]"  # noqa: S105 - what replaces a token, not one


def redact(text: str) -> str:
    """`text` with anything that is an NHS number or looks like a token masked."""
    text = TOKEN_SHAPED.sub(TOKEN_MASK, text)

    def nhs(match: re.Match[str]) -> str:
        digits = "".join(match.groups())
        return NHS_NUMBER_MASK if is_valid_nhs_number(digits) else match.group(0)

    return NHS_SHAPED.sub(nhs, text)


class Redact(logging.Filter):
    """Masks NHS numbers and tokens in the message, its arguments and string fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, redact(value))
        if record.exc_info and not record.exc_text:
            # The traceback's text is formatted here, once, so that it is masked too (an
            # exception's message may quote a value).
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class JsonLines(JsonFormatter):
    """python-json-logger's formatter with HomeFirst's field names."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        kwargs.setdefault("datefmt", "%Y-%m-%dT%H:%M:%S")
        super().__init__(*args, **kwargs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("color_message", None)  # uvicorn's copy of the message with ANSI colours

    def formatException(self, ei: Any) -> str | list[str]:  # type: ignore[override]  # noqa: N802
        # A traceback quotes exception messages, which may quote a value.
        return _redacted(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str | list[str]:  # type: ignore[override]  # noqa: N802
        return _redacted(super().formatStack(stack_info))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802, ARG002 - the stdlib's signature
        # UTC with milliseconds and a Z, whatever the server's time zone (`datefmt` is unused).
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{seconds}.{int(record.msecs):03d}Z"


def _redacted(text: str | list[str]) -> str | list[str]:
    return redact(text) if isinstance(text, str) else [redact(line) for line in text]


def logging_config(level: str = "INFO", file: Path | None = None) -> dict[str, Any]:
    """A `logging.config.dictConfig` dictionary: JSON lines for the root logger and uvicorn's,
    with the context and redaction filters on the handler (so that every logger's records pass
    them). uvicorn's own access log is off: the service logs each request itself, with the
    route's template instead of the path."""
    handler: dict[str, Any] = {
        "formatter": "json",
        "filters": ["context", "redact"],
    }
    if file is not None:
        handler |= {"class": "logging.FileHandler", "filename": str(file), "encoding": "utf-8"}
    else:
        handler |= {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": ContextFilter},
            "redact": {"()": Redact},
        },
        "formatters": {"json": {"()": JsonLines}},
        "handlers": {"default": handler},
        "root": {"level": level.upper(), "handlers": ["default"]},
        "loggers": {
            "uvicorn": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            # python-hl7 logs the value it cannot decode; HomeFirst's reader never asks it to.
            "hl7": {"level": "CRITICAL"},
            # httpx logs each outbound request's full URL (an identity provider's, with its
            # query) at INFO.
            "httpx": {"level": "WARNING"},
        },
    }


def configure_logging(level: str = "INFO", file: Path | None = None) -> None:
    logging.config.dictConfig(logging_config(level, file))
    logging.captureWarnings(True)
