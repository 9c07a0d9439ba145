"""Service configuration, read from the environment (and an optional `.env` file)."""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.security.headers import DEFAULT_CSP

# Where alembic.ini, migrations/ and pathways/ are (README "Running it in containers").
ROOT_VARIABLE = "HOMEFIRST_ROOT"


def project_root() -> Path:
    """`HOMEFIRST_ROOT` when it is set (the image sets it); otherwise the source checkout the
    package was imported from, when it is one (an editable install, the tests); otherwise, for
    an installed wheel, the current directory, as for `alembic` itself."""
    configured = os.environ.get(ROOT_VARIABLE)
    if configured:
        return Path(configured).resolve()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "alembic.ini").is_file():
        return checkout
    return Path.cwd()


PROJECT_ROOT = project_root()
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
    # The sweeper restates finished days that late entries changed (README "Restated days") at
    # most this often, taking every entry marked since in one go; 0 leaves it to
    # `homefirst metrics restate` (from cron).
    restate_interval_seconds: float = Field(default=900, ge=0)
    sql_echo: bool = False
    # What is between the service and PostgreSQL (README "PgBouncer"): `transaction` for a
    # pooler in transaction mode (PgBouncer's `pool_mode = transaction`), which hands each
    # transaction whichever server connection is free, so nothing may outlive a transaction on
    # one: psycopg then prepares no statement on the server. `none`: a direct connection (or a
    # pooler in session mode), where psycopg prepares a statement run five times.
    database_pooler: Literal["none", "transaction"] = "none"
    # Today's dashboard figures are computed ahead (README "Managers' dashboard"): a reader gets
    # figures at most this many seconds old, and the service's refresher recomputes figures
    # someone has asked for once they are `live_figures_refresh_seconds` old. 0 computes them
    # on every request; a refresh of 0 turns the in-process refresher off.
    live_figures_max_age_seconds: float = Field(default=30, ge=0)
    live_figures_refresh_seconds: float = Field(default=10, ge=0)
    # CHC backlog imports run as jobs (README "Continuing healthcare"): the service's runner
    # starts at once on an upload to the same process and otherwise looks for queued jobs (or
    # jobs whose runner died) this often; 0 turns the in-process runner off (then run
    # `homefirst chc run-imports` from cron). Rows per batch (one transaction each, committed
    # with the checkpoint), and how long a runner holds a job without committing a batch.
    chc_import_poll_seconds: float = Field(default=5, ge=0)
    chc_import_batch_rows: int = Field(default=500, ge=1, le=10_000)
    chc_import_lease_seconds: int = Field(default=120, ge=5)
    # What-if runs (README "What-if simulation"): the service's job starts at once on a request
    # to the same process and otherwise looks for queued runs (or runs whose job died) this
    # often; 0 turns it off (then run `homefirst worker` with it on). How long a job holds a run.
    whatif_poll_seconds: float = Field(default=5, ge=0)
    whatif_lease_seconds: int = Field(default=600, ge=30)
    # -- Notifications (README "Notifications") ---------------------------------------------
    # Seconds between runs of the delivery job (fan-out from the outbox, then email and
    # webhooks); 0 (the default) leaves notifications in the outbox until a process with a
    # period runs it (for example `NOTIFICATION_POLL_SECONDS=5 homefirst worker`, as
    # compose.yaml's worker does).
    notification_poll_seconds: float = Field(default=0, ge=0)
    # A failed email or webhook is tried again after base * 2^(attempt-1) seconds (at most
    # `notification_retry_max_seconds`), less up to half at random so retries spread out; after
    # `notification_max_attempts` it is a dead letter (GET /notifications/dead-letters).
    notification_max_attempts: int = Field(default=8, ge=1, le=50)
    notification_retry_base_seconds: float = Field(default=30, ge=0)
    notification_retry_max_seconds: float = Field(default=3600, ge=0)
    # How long one webhook request may take, and how long a sender holds a claimed delivery.
    notification_webhook_timeout_seconds: float = Field(default=10, gt=0)
    notification_lease_seconds: int = Field(default=120, ge=5)
    # Links in emails and webhooks start with this (the service's address as people reach it).
    public_base_url: str = "http://localhost:8000"
    # Email (standard library smtplib): no host, no email (deliveries wait, then dead-letter).
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_from: str = "homefirst@localhost"
    smtp_starttls: bool = True
    smtp_user: str | None = None
    smtp_password: str | None = None

    # -- Security and limits (README "Security and limits") ----------------------------------
    # Largest request body, in bytes; larger is a 413. The CHC backlog upload gets its own cap
    # (the CSV itself may be up to 20 MB, plus the multipart envelope).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_upload_body_bytes: int = Field(default=21 * 1024 * 1024, ge=1024)
    # Requests per minute for each bearer token, with bursts up to `rate_limit_burst`; a 429
    # with Retry-After beyond that. Kept in each process's memory. 0 turns the limit off.
    rate_limit_per_minute: int = Field(default=6000, ge=0)
    rate_limit_burst: int = Field(default=1000, ge=1)
    # Origins allowed to call the API from a browser (JSON list); none by default (CORS closed).
    cors_allow_origins: list[str] = Field(default_factory=list)
    # Strict-Transport-Security max-age in seconds; 0 leaves the header out.
    hsts_seconds: int = Field(default=31_536_000, ge=0)
    content_security_policy: str = DEFAULT_CSP
    # Signed-in browsers (app/auth/sessions.py): a session ends after this long without a
    # request, and this long after sign-in whatever the activity.
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(default=12, ge=1, le=7 * 24)
    # The session cookie is `Secure` when the request came over HTTPS; true sets it always (a
    # TLS proxy in front that does not pass the scheme on).
    session_cookie_secure: bool = False
    # Origins a state-changing browser request may come from besides the request's own host
    # (a proxy in front that rewrites Host), e.g. ["https://homefirst.example.nhs.uk"].
    trusted_origins: list[str] = Field(default_factory=list)
    # Passwords (app/auth/passwords.py): this many failed sign-ins in a row lock the account
    # for `password_lockout_minutes` (even the right password is refused meanwhile); an
    # administrator's reset unlocks it at once.
    password_max_failures: int = Field(default=5, ge=1, le=100)
    password_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # -- Operations (README "Running it: logs and metrics") ---------------------------------------
    # JSON log lines at this level and above, on standard error or appended to `log_file`.
    log_level: str = Field(default="INFO", pattern=r"^(?i:debug|info|warning|error|critical)$")
    log_file: Path | None = None
    # /metrics (Prometheus text format) answers a request with `Authorization: Bearer
    # <metrics_token>`, or from an address in one of `metrics_networks` (CIDR, JSON list, e.g.
    # ["10.0.0.0/8"]); with neither configured it refuses everyone.
    metrics_token: str | None = Field(default=None, min_length=16)
    metrics_networks: list[str] = Field(default_factory=list)
    # OpenID Connect identity providers (README "OpenID Connect (NHS CIS2)"); by default
    # `identity-providers.yaml` beside the other configuration files in pathways/config.
    identity_providers_file: Path | None = None

    @field_validator("metrics_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # a ValueError names the bad one
        return value

    @property
    def identity_providers_path(self) -> Path:
        return (
            self.identity_providers_file or self.pathways_dir / "config" / "identity-providers.yaml"
        )

    @property
    def idempotency_ttl(self) -> timedelta:
        return timedelta(hours=self.idempotency_ttl_hours)

    @property
    def live_figures_refresh(self) -> timedelta:
        return timedelta(seconds=self.live_figures_refresh_seconds)

    @property
    def live_figures_max_age(self) -> timedelta:
        return timedelta(seconds=self.live_figures_max_age_seconds)


@lru_cache
def get_settings() -> Settings:
    return Settings()
