"""The feed's interfaces for an organisation of the test's own, so tests that share a database
(and the demo's organisation) never count each other's cases."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import yaml

from app.adt.config import AdtInterfaces, load_adt_interfaces
from tests.servers import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "pathways"


def unique_org() -> str:
    return f"ADT-{uuid.uuid4().hex[:8].upper()}"


def interfaces_for(org: str) -> AdtInterfaces:
    """The shipped interfaces (same senders, sites and wards) sending for `org`."""
    shipped = load_adt_interfaces(SHIPPED / "config")
    return AdtInterfaces(
        interfaces=tuple(i.model_copy(update={"organisation": org}) for i in shipped.interfaces)
    )


def pathways_for(org: str, into: Path) -> Path:
    """A copy of the pathways directory whose interfaces file sends for `org` (for a process
    started with PATHWAYS_DIR)."""
    target = into / "pathways"
    shutil.copytree(SHIPPED, target)
    data = interfaces_for(org).model_dump(mode="json")
    (target / "config" / "adt-interfaces.yaml").write_text(yaml.safe_dump(data))
    return target
