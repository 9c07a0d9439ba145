"""Rules for clinical time (`occurred_at`) against server time (`recorded_at`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.errors import ValidationFailed
from app.timeutil import DATE_RANGE_MSG, as_utc, in_date_range


class InvalidTime(ValidationFailed):
    code = "invalid_time"
    title = "Invalid clinical time"


@dataclass(frozen=True)
class TimePolicy:
    # Clocks on ward computers drift; a little skew is not "the future".
    future_skew: timedelta = timedelta(minutes=2)
    # Older than this counts as backdated and needs a reason.
    backdate_after: timedelta = timedelta(minutes=15)

    def resolve(
        self,
        occurred_at: datetime | None,
        *,
        now: datetime,
        reason: str | None,
        not_before: datetime | None = None,
        not_before_what: str = "",
    ) -> tuple[datetime, bool]:
        """Return the clinical time to record and whether it is backdated."""
        if occurred_at is None:
            return now, False
        try:
            at = as_utc(occurred_at)
        except ValueError:
            raise InvalidTime("occurred_at must include a time zone offset") from None
        if at > now + self.future_skew:
            raise InvalidTime("occurred_at is in the future", occurred_at=at.isoformat())
        if not in_date_range(at.date()):  # London days and day arithmetic must stay on the calendar
            raise InvalidTime(f"occurred_at {DATE_RANGE_MSG}", occurred_at=at.isoformat())
        if not_before is not None and at < not_before:
            raise InvalidTime(
                f"occurred_at is before {not_before_what}",
                occurred_at=at.isoformat(),
                not_before=not_before.isoformat(),
            )
        backdated = at < now - self.backdate_after
        if backdated and not (reason and reason.strip()):
            raise InvalidTime(
                "a backdated event needs a reason",
                occurred_at=at.isoformat(),
                backdated_by_minutes=int((now - at).total_seconds() // 60),
            )
        return at, backdated
