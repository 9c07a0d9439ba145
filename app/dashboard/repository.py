"""SQL for the dashboard: the spells a reporting day can touch, and the change feed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from app.cases.scope import visible_to
from app.models import Case, CaseEvent, CaseShare
from app.models.snapshot import ALL_WARDS, MetricSnapshot
from app.models.spell import DischargeSpell

# The oldest transaction id that was still running when this statement's snapshot was taken,
# among those that may write to this database (the snapshot's upper bound if there is none).
# A running transaction is left out only while pg_stat_activity shows it working in another
# database; one that finished in between, a prepared one, or one whose session this role may
# not see, is kept, which can only delay an event, never skip it. 64-bit ids (xid8) are
# compared with pg_stat_activity's 32-bit ones modulo 2^32.
PG_FEED_HORIZON = """(
    SELECT coalesce(
        min(x::text::bigint),
        pg_snapshot_xmax(pg_current_snapshot())::text::bigint
    )
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    WHERE NOT EXISTS (
        SELECT 1 FROM pg_stat_activity AS a
        WHERE a.datname <> current_database()
          AND a.backend_xid IS NOT NULL
          AND a.backend_xid::text::bigint = x::text::bigint % 4294967296
    )
)"""


class DashboardRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def discharge_cases_touching(
        self, day_start: datetime, snapshot: datetime, site: str | None, organisation: str
    ) -> list[Case]:
        """Discharge cases the organisation may see that are open at the snapshot, or closed
        on or after the day began."""
        stmt = (
            select(Case)
            .where(
                Case.workflow_key == "discharge",
                Case.opened_at <= snapshot,
                or_(Case.closed_at.is_(None), Case.closed_at >= day_start),
                visible_to(organisation),
            )
            .order_by(Case.id)
        )
        if site is not None:
            stmt = stmt.where(Case.site == site)
        return list(self.session.execute(stmt).scalars())

    def snapshot(
        self, day: date, site: str, organisation: str, ward: str = ALL_WARDS
    ) -> MetricSnapshot | None:
        stmt = select(MetricSnapshot).where(
            MetricSnapshot.day == day,
            MetricSnapshot.site == site,
            MetricSnapshot.ward == ward,
            MetricSnapshot.organisation == organisation,
        )
        return self.session.execute(stmt).scalar_one_or_none()

    def add_snapshot(self, row: MetricSnapshot) -> None:
        self.session.add(row)
        self.session.flush()

    def discharge_sites(self, organisation: str, ward: str | None = None) -> list[str]:
        """Sites of the discharge cases the organisation may see (with `ward`: of those whose
        spell row names that ward last)."""
        stmt = (
            select(Case.site)
            .where(
                Case.workflow_key == "discharge",
                Case.site.is_not(None),
                visible_to(organisation),
            )
            .distinct()
            .order_by(Case.site)
        )
        if ward is not None:
            stmt = stmt.join(DischargeSpell, DischargeSpell.case_id == Case.id).where(
                DischargeSpell.ward == ward
            )
        return [s for s in self.session.execute(stmt).scalars() if s]

    def discharge_wards(self, organisation: str) -> list[str]:
        """Wards named by the spell rows of the discharge cases the organisation may see."""
        stmt = (
            select(DischargeSpell.ward)
            .join(Case, Case.id == DischargeSpell.case_id)
            .where(DischargeSpell.ward.is_not(None), visible_to(organisation))
            .distinct()
            .order_by(DischargeSpell.ward)
        )
        return [w for w in self.session.execute(stmt).scalars() if w]

    def discharge_organisations(self) -> list[str]:
        """Organisations that own or share a discharge case: each gets its own figures."""
        owners = select(Case.organisation).where(Case.workflow_key == "discharge")
        sharers = (
            select(CaseShare.organisation)
            .join(Case, Case.id == CaseShare.case_id)
            .where(Case.workflow_key == "discharge")
        )
        found = set(self.session.execute(owners.distinct()).scalars())
        found |= set(self.session.execute(sharers.distinct()).scalars())
        return sorted(found)

    def events_after(
        self, after_id: int, limit: int, workflow: str | None, organisation: str
    ) -> list[tuple[CaseEvent, Case]]:
        """Committed events above the cursor, in id order, that no late commit can precede.

        Ids are taken at INSERT, not at COMMIT, so id 101 can be visible while id 100 is still
        being written. On PostgreSQL an event is served only when its transaction is older than
        every transaction that was still running when the statement's snapshot was taken
        (`PG_FEED_HORIZON`), so the cursor never passes an id that could still appear.
        Transactions known to belong to other databases on the same server are left out, so a
        long load elsewhere does not hold the feed back. SQLite runs one writer at a time, so
        ids commit in order there.
        """
        stmt = (
            select(CaseEvent, Case)
            .join(Case, Case.id == CaseEvent.case_id)
            .where(CaseEvent.id > after_id, visible_to(organisation))
            .order_by(CaseEvent.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.where(CaseEvent.tx_id < text(PG_FEED_HORIZON))
        if workflow is not None:
            stmt = stmt.where(Case.workflow_key == workflow)
        return [(e, c) for e, c in self.session.execute(stmt).all()]
