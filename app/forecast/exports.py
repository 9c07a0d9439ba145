"""The estimates as CSV (every cell through `app.csvout`)."""

from __future__ import annotations

from typing import Any

from app import csvout
from app.forecast.schemas import StartWindowsRead

WINDOW_COLUMNS = [
    "as_at",
    "queue",
    "place",
    "of",
    "case_id",
    "nhs_number",
    "rag",
    "waiting_since",
    "waiting_days",
    "earliest",
    "likely",
    "latest",
    "interval",
    "basis",
]
FAN_COLUMNS = ["as_at", "backlog_now", "week_ending", "lower", "likely", "upper", "interval"]
BACKTEST_COLUMNS = [
    "queue",
    "estimates",
    "scored",
    "mae_days",
    "bias_days",
    "coverage",
    "mean_width_days",
    "missed_still_waiting",
    "not_yet_known",
    "ended_otherwise",
    "no_pace",
    "held_back",
]


def windows_csv(found: StartWindowsRead) -> str:
    return csvout.to_csv(
        WINDOW_COLUMNS,
        (
            [
                found.as_at,
                w.label,
                w.place,
                w.of,
                w.case_id,
                w.patient_ref,
                w.rag,
                w.waiting_since,
                w.waiting_days,
                w.earliest,
                w.likely,
                "held back"
                if w.held_back
                else w.latest
                if not w.beyond_horizon
                else "beyond horizon",
                w.interval,
                w.basis,
            ]
            for w in found.items
        ),
    )


def fan_csv(body: dict[str, Any]) -> str:
    interval = body["weeks_to_clear"]["interval"]
    return csvout.to_csv(
        FAN_COLUMNS,
        (
            [
                body["as_at"],
                body["backlog"],
                w["week_ending"],
                w["lower"],
                w["likely"],
                w["upper"],
                interval,
            ]
            for w in body["fan"]
        ),
    )


def backtest_csv(body: dict[str, Any]) -> str:
    rows = [*body["queues"], body["clearance"]]
    return csvout.to_csv(BACKTEST_COLUMNS, ([row[c] for c in BACKTEST_COLUMNS] for row in rows))
