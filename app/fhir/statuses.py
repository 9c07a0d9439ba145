"""How a case's state reads as a FHIR status, for each resource a workflow is served as.

Every state of every pathway version is mapped here (a test holds the tables to the pathway
files), so a search by status can be turned into the states it means and filtered in SQL. A state
a later pathway adds before this table knows it reads as `unknown` (Encounter) or by whether the
case is open (EpisodeOfCare), never as an error.
"""

from __future__ import annotations

DISCHARGE = "discharge"
CHC = "chc"
INTERMEDIATE_CARE = "intermediate_care"
EPISODE_WORKFLOWS = (CHC, INTERMEDIATE_CARE)

# The acute hospital spell. The patient is in hospital from referral until they leave
# (discharge, death or transfer): every state after that is a finished spell. Nothing maps to
# `planned`: a discharge case is opened for a patient already admitted.
ENCOUNTER_STATUSES = ("planned", "in-progress", "finished", "cancelled", "unknown")
ENCOUNTER: dict[str, str] = {
    "referred": "in-progress",
    "assessing": "in-progress",
    "ready_for_discharge": "in-progress",
    "awaiting_support": "in-progress",
    "discharged": "finished",
    "post_discharge_assessment": "finished",
    "follow_up": "finished",
    "closed": "finished",
    "died": "finished",
    "transferred": "finished",
    "cancelled": "cancelled",
}

EPISODE_STATUSES = ("planned", "waitlist", "active", "onhold", "finished", "cancelled")
EPISODE: dict[str, dict[str, str]] = {
    # CHC: waiting for an assessor while referred or deferred; active from allocation until the
    # case closes (decision, funding, brokerage, review and disputes are all the same episode).
    CHC: {
        "referred": "waitlist",
        "deferred": "waitlist",
        "allocated": "active",
        "screening": "active",
        "full_assessment": "active",
        "fast_track": "active",
        "panel": "active",
        "decided": "active",
        "funding_transitioned": "active",
        "placement_brokerage": "active",
        "review_scheduled": "active",
        "reassessment": "active",
        "local_resolution": "active",
        "independent_review": "active",
        "closed": "finished",
        "died": "finished",
        "withdrawn": "cancelled",
    },
    # Intermediate care: planned until accepted, on the waiting list for capacity, active while
    # care is given (a delayed exit included), finished once the episode has ended (the 91-day
    # follow-up is not care), cancelled when never taken on.
    INTERMEDIATE_CARE: {
        "referred": "planned",
        "triaged": "planned",
        "assessed": "planned",
        "waiting_capacity": "waitlist",
        "active": "active",
        "awaiting_ongoing_package": "active",
        "ended": "finished",
        "closed": "finished",
        "cancelled": "cancelled",
    },
}

# Tasks are open work only: each kind has one status while it lasts.
TASK_STATUSES = ("ready", "in-progress")
FLAG_STATUSES = ("active", "inactive")


def encounter_status(state: str) -> str:
    return ENCOUNTER.get(state, "unknown")


def episode_status(workflow: str, state: str, is_open: bool) -> str:
    found = EPISODE.get(workflow, {}).get(state)
    if found is not None:
        return found
    return "active" if is_open else "finished"


def encounter_states(statuses: set[str]) -> list[str]:
    """The discharge states that read as any of `statuses`."""
    return sorted(state for state, status in ENCOUNTER.items() if status in statuses)


def episode_states(statuses: set[str]) -> dict[str, list[str]]:
    """For each episode workflow, its states that read as any of `statuses`."""
    return {
        workflow: sorted(state for state, status in table.items() if status in statuses)
        for workflow, table in EPISODE.items()
    }
