"""How `--dist loadscope` hands the suite to the xdist workers (conftest's
`pytest_xdist_make_scheduler`).

The unit of work is a module's tests on one backend: a worker takes all of them, so a fixture
the module builds once (its own database, server or data) is still built once per backend.

The session-wide fixtures (`db_url`, `settings`, `client`, `live_server`) are parametrised by
the session-scoped `backend`: a worker that runs a PostgreSQL unit after a SQLite one (or the
other way round) tears them down and builds them again, a new database and two new apps each
time, some seconds on a busy machine. xdist's own order (units by number of tests) made each
worker switch about twenty times a run. So the queue is arranged as

    [SQLite units, longest first] [units on no backend] [PostgreSQL units, shortest first]

and even workers (gw0, gw2, ...) take from the front while odd ones take from the back: each
worker switches backend at most once, where the two ends meet; the longest units start first,
on both backends at once; and the run ends on short units, so no worker waits long at the end
for the other to finish a long one. Units on no backend (no `backend` parameter) are spread
over the two sides so that each side has about the same expected time.

A unit's expected time is its module's measured seconds per backend (`LONG_RUNNING`) or, for
the rest, a small time per test. It only orders the queue: a stale figure costs a little time,
never a test.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from xdist.scheduler import LoadScopeScheduling

BACKENDS = ("sqlite", "postgresql")  # conftest's `backend` parameters
FRONT, BACK = BACKENDS  # the backend whose units each end of the queue holds

# Seconds a module's tests took on one backend (CI's run of 982 s, 2 cores, load about 4),
# for the modules over about 8 s; browser sweeps' seconds are SQLite's (tests/browser.py).
LONG_RUNNING = {
    "tests/hardening/test_fuzz.py": 90,
    "tests/integration/test_read_models.py": 35,
    "tests/e2e/test_docs_offline.py": 32,
    "tests/integration/test_backup_restore.py": 30,  # PostgreSQL only; measured alone, load 8
    "tests/e2e/test_revocation_fresh_process.py": 29,
    "tests/web/test_chc_browser.py": 26,
    "tests/hardening/test_access_log.py": 24,
    "tests/web/test_huddle.py": 24,
    "tests/e2e/test_fresh_process.py": 22,
    "tests/web/test_case_page_browser.py": 20,
    "tests/web/test_tracker_browser.py": 16,
    "tests/hardening/test_authorisation_matrix.py": 16,
    "tests/web/test_ic_board.py": 15,
    "tests/hardening/test_tokens_and_headers.py": 14,
    "tests/web/test_sign_in_browser.py": 11,
    "tests/dashboard/test_sessions.py": 10,
    "tests/dashboard/test_page.py": 9,
    "tests/hardening/test_migrations_live.py": 9,
    "tests/web/test_discharge_journey.py": 8,
    "tests/web/test_oidc.py": 8,
    "tests/chc/test_journeys_api.py": 8,
}
SECONDS_PER_TEST = 0.3  # about the median of the other modules'


def split_scope(nodeid: str) -> str:
    """The unit a test belongs to: its module and the backend it runs on ("" for none), e.g.
    `tests/api/test_auth.py postgresql`."""
    module, _, name = nodeid.partition("::")
    params = name[name.find("[") + 1 : name.rfind("]")].split("-") if "[" in name else []
    return f"{module} {' '.join(b for b in BACKENDS if b in params)}"


def expected_seconds(scope: str, tests: int) -> float:
    module = scope.split(" ", 1)[0]
    return LONG_RUNNING.get(module, SECONDS_PER_TEST * tests)


def arrange(units: dict[str, dict[str, bool]]) -> OrderedDict[str, dict[str, bool]]:
    """The queue: FRONT's units longest first, then units on no backend, then BACK's units
    shortest first (so its longest are at the back)."""
    sides: dict[str, list[str]] = {FRONT: [], BACK: []}
    neutral: list[str] = []
    for scope in units:
        backend = scope.split(" ", 1)[1]
        (sides[backend] if backend in sides else neutral).append(scope)

    def cost(scope: str) -> float:
        return expected_seconds(scope, len(units[scope]))

    load = {side: sum(map(cost, scopes)) for side, scopes in sides.items()}
    for scope in sorted(neutral, key=cost, reverse=True):
        lighter = min(load, key=lambda side: load[side])
        sides[lighter].append(scope)
        load[lighter] += cost(scope)
    front = sorted(sides[FRONT], key=cost, reverse=True)
    back = sorted(sides[BACK], key=cost)
    return OrderedDict((scope, units[scope]) for scope in front + back)


class ModuleAndBackend(LoadScopeScheduling):
    """xdist's loadscope with the units and the queue described above."""

    def __init__(self, config: Any, log: Any = None) -> None:
        super().__init__(config, log)
        self._arranged = False

    def _split_scope(self, nodeid: str) -> str:
        return split_scope(nodeid)

    def _assign_work_unit(self, node: Any) -> None:
        """As xdist's, taking the unit from this worker's end of the queue."""
        assert self.workqueue
        if not self._arranged:  # the queue is complete by the first assignment
            self.workqueue = arrange(self.workqueue)
            self._arranged = True
        from_back = _worker_number(node) % 2 == 1
        scope, work_unit = self.workqueue.popitem(last=from_back)
        self.assigned_work.setdefault(node, {})[scope] = work_unit
        collection = self.registered_collections[node]
        node.send_runtest_some(
            [collection.index(nodeid) for nodeid, done in work_unit.items() if not done]
        )


def _worker_number(node: Any) -> int:
    """0 for gw0, 1 for gw1, ... (0 for a worker named otherwise)."""
    digits = "".join(c for c in str(node.gateway.id) if c.isdigit())
    return int(digits) if digits else 0
