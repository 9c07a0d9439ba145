"""What a notification can be about, and how it can reach someone."""

from __future__ import annotations

from typing import Literal, get_args

Kind = Literal[
    "clock_warning",
    "clock_breach",
    "case_escalated",
    # Declared for issue 17's referrals and actions, which will emit them through `notify`.
    "referral_received",
    # A referral a case sent changed status (told to the referring organisation; app/referrals).
    "referral_updated",
    "action_assigned",
    "action_overdue",
]
KINDS: tuple[str, ...] = get_args(Kind)
Channel = Literal["in_app", "email", "webhook"]
CHANNELS: tuple[str, ...] = get_args(Channel)

# The words an email's subject and a person's inbox use.
TITLES: dict[str, str] = {
    "clock_warning": "A clock passed a warning",
    "clock_breach": "A clock breached",
    "case_escalated": "A case was escalated",
    "referral_received": "A referral was received",
    "referral_updated": "A referral changed status",
    "action_assigned": "An action was assigned",
    "action_overdue": "An action is overdue",
}


def case_link(case_id: int) -> str:
    """The link a case notification carries: the case's page (`app.web.case_page`), which
    shows it to whoever signs in and may see it, and nobody else."""
    return f"/tracker/cases/{case_id}"
