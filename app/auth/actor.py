"""The authenticated caller, as the rest of the code sees it."""

from __future__ import annotations

from dataclasses import dataclass

# Roles a transition may name (docs/domain.md §2.2); pathway files are checked against
# this list at start-up so a typo cannot silently lock everyone out of a transition.
KNOWN_ROLES: frozenset[str] = frozenset(
    {
        "discharge_team",
        "ward_clinician",
        "huddle_chair",
        "trusted_assessor",
        "social_worker",
        "chc_assessor",
        "chc_panel",
        "chc_decision_maker",
        "broker",
        "ic_coordinator",
        "ic_triager",
        "ic_practitioner",
        "mh_liaison",
        "provider",
        "analyst",
        "manager",
        "ig_officer",
        "pathway_author",
        "admin",
        "system",
        "interface",
    }
)
# Roles no person is given: `system` is the service acting by itself (timers, clock sweeps,
# imports' bookkeeping); `interface` is a feed from another system (the hospital's PAS sending
# HL7 v2 ADT, app/adt), one user per sending interface so the history shows what it wrote.
# An administrator cannot grant one; the command line grants one only
# when told to in so many words (`homefirst users add --allow-internal-roles`).
INTERNAL_ROLES: frozenset[str] = frozenset({"system", "interface"})


@dataclass(frozen=True)
class Actor:
    user_id: int
    username: str
    organisation: str
    roles: frozenset[str]

    def role_for(self, allowed: tuple[str, ...] | frozenset[str]) -> str | None:
        """The first of `allowed` this actor holds (recorded on the event), or None."""
        for role in allowed:
            if role in self.roles:
                return role
        return None


SYSTEM_ACTOR = Actor(
    user_id=0, username="system", organisation="system", roles=frozenset({"system"})
)
