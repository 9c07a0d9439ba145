"""Where Alembic's scripts live and which revision is head; used by readiness and the CLI."""

from __future__ import annotations

from functools import lru_cache

from alembic.config import Config
from alembic.script import ScriptDirectory

from app.config import PROJECT_ROOT


def alembic_config(database_url: str | None = None) -> Config:
    ini = PROJECT_ROOT / "alembic.ini"
    if not ini.is_file():
        raise FileNotFoundError(
            f"{ini} not found: run from the directory holding alembic.ini, migrations/ and "
            "pathways/, or set HOMEFIRST_ROOT to it"
        )
    config = Config(str(ini))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


@lru_cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade_to_head(database_url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), "head")
