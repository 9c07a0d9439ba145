"""Service configuration, read from the environment (and an optional `.env` file)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "homefirst.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        description="SQLite file by default; postgresql+psycopg://... in production",
    )
    pathways_dir: Path = PROJECT_ROOT / "pathways"
    environment: str = "development"
    # Largest page a list endpoint will return, whatever `limit` asks for.
    max_page_size: int = 200
    default_page_size: int = 50
    # How long a stored idempotent response is replayed for.
    idempotency_ttl_hours: int = 24
    # Seconds between clock sweeps run inside the service; 0 disables the in-process sweeper
    # (run `homefirst clocks sweep` from cron instead).
    clock_sweep_interval_seconds: int = 60
    sql_echo: bool = False

    @property
    def idempotency_ttl(self) -> timedelta:
        return timedelta(hours=self.idempotency_ttl_hours)


@lru_cache
def get_settings() -> Settings:
    return Settings()
