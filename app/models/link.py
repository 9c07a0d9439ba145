"""Explicit links between cases of different workflows (docs/domain.md §11.4).

A link never copies state from one case to the other; each side keeps its own history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK


class CaseLink(Base):
    __tablename__ = "case_links"
    __table_args__ = (UniqueConstraint("from_case_id", "to_case_id", "link_type"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    from_case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("cases.id", ondelete="RESTRICT"), index=True
    )
    to_case_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("cases.id", ondelete="RESTRICT"), index=True
    )
    # step_down, chc_referral, follow_on, readmission, related
    link_type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    created_by_id: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(64))
