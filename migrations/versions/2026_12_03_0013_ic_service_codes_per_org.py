"""IC service codes unique per organisation.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

A service's code was unique across every organisation, so an organisation defining a service
learnt from the 409 that another organisation already used the code. Codes are now unique
within an organisation (the only place anyone looks them up).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.schema_swaps import swap_unique

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    swap_unique("ic_services", drop="uq_ic_services_code", create=("organisation", "code"))


def downgrade() -> None:
    shared = (
        op.get_bind()
        .execute(sa.text("SELECT code FROM ic_services GROUP BY code HAVING COUNT(*) > 1"))
        .scalars()
        .all()
    )
    if shared:
        raise RuntimeError(
            "cannot make IC service codes globally unique again: "
            f"{len(shared)} code(s) are used in more than one organisation"
        )
    swap_unique("ic_services", drop="uq_ic_services_organisation_code", create=("code",))
