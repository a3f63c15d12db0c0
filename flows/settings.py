"""The one place that reads the environment: every knob of the platform, prefix BAP_.

Settings are read at run time by `get_settings()`, never at import, so tests and the CLI can
change the environment first. Every field is documented in the README (a test keeps it so).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BAP_", env_file=".env", extra="ignore")

    # --- warehouse -------------------------------------------------------------------------
    warehouse_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL of any PostgreSQL 12+; unset = the embedded PostgreSQL under the data dir.",
    )
    dashboard_warehouse_url: SecretStr | None = Field(
        default=None,
        description="URL the dashboard reads with (a read-only role); unset = the read-only role the migrations create.",
    )

    # --- data ------------------------------------------------------------------------------
    data_dir: str = Field(
        default="./data", description="Root of raw/, processed/, quarantine/ (a path or an fsspec URL)."
    )
    state_dir: str = Field(
        default="",
        description="Local folder for the embedded PostgreSQL and other machine-local state; empty = <data_dir> when local, ./.bap otherwise.",
    )
    log_dir: str = Field(default="./logs", description="Folder for the structured log files.")
    transactions_per_day: int = Field(default=500, ge=0, description="Synthetic transactions generated per day.")
    customer_count: int = Field(default=2000, ge=1, description="Size of the synthetic customer feed.")
    seed: int = Field(default=42, description="Seed of the synthetic generator (same seed + date = same bytes).")
    defect_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="Share of generated rows given a defect.")

    # --- orchestration ---------------------------------------------------------------------
    late_arrival_days: int = Field(
        default=7,
        ge=0,
        description="Days before its file's day that a record may belong to; older records are quarantined as too_late.",
    )
    retry_attempts: int = Field(default=3, ge=1, description="Attempts of a retrying task (first try included).")
    retry_delay_s: float = Field(default=2.0, ge=0.0, description="Seconds between attempts.")
    backfill_concurrency: int = Field(
        default=4, ge=1, description="Task runs (days, or chunks of small days) processed at once by a backfill."
    )
    backfill_chunk_days: int = Field(
        default=30,
        ge=1,
        description="Most days a backfill runs as one chunk (validated together, one task run); 1 = day by day.",
    )
    backfill_chunk_rows: int = Field(
        default=200_000,
        ge=1,
        description="Most rows (transactions_per_day x days) in a backfill chunk: big days run one by one.",
    )
    backfill_rows_in_flight: int = Field(
        default=2_000_000,
        ge=1,
        description="Most rows a backfill processes at once (a 1M-row day in flight takes ~1.3 GiB): caps the concurrency.",
    )
    prefect_api_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("BAP_PREFECT_API_URL", "PREFECT_API_URL"),
        description="Prefect API to report to; unset = a local Prefect server started on demand and reused.",
    )
    prefect_port: int = Field(default=4200, description="Port of the on-demand local Prefect server.")
    prefect_mode: Literal["server", "ephemeral"] = Field(
        default="server",
        description="Without PREFECT_API_URL: 'server' starts (or reuses) a local server, 'ephemeral' uses Prefect's in-process one.",
    )
    task_runner: Literal["threads", "dask"] = Field(
        default="threads",
        description="How a backfill runs its days: 'threads' (one machine) or 'dask' (prefect-dask DaskTaskRunner).",
    )
    dask_address: str | None = Field(
        default=None,
        description="Dask scheduler to send backfill days to (tcp://host:8786); unset with task_runner=dask = a local cluster.",
    )
    dask_workers: int = Field(
        default=2, ge=1, description="Worker processes of the local Dask cluster (one thread each)."
    )
    alert_webhook_url: SecretStr | None = Field(
        default=None,
        description="Where failure and freshness alerts go: http(s) URL = JSON POST, other schemes = apprise (slack://, mailto://, ...); unset = log only.",
    )
    freshness_sla_hours: float = Field(
        default=6.0,
        ge=0.0,
        description="Hours after the end of a day (UTC) by which it must be loaded; later = a freshness alert.",
    )
    freshness_lookback_days: int = Field(
        default=7, ge=1, description="How many past days the freshness check looks at."
    )

    @field_validator("dask_address", "alert_webhook_url", mode="before")
    @classmethod
    def _orchestration_empty_is_unset(cls, value: object) -> object:
        return None if value in ("", None) else value

    # --- quality ---------------------------------------------------------------------------
    quarantine_threshold: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Largest share of quarantined rows a day may have before it is blocked.",
    )
    expected_rows_per_day: int | None = Field(
        default=None,
        ge=0,
        description="Rows a day is expected to receive (centre of the row-count band); unset = BAP_TRANSACTIONS_PER_DAY, 0 = no band. Set it for landed files.",
    )
    row_count_tolerance: float = Field(
        default=0.5,
        ge=0.0,
        description="Half-width of the row-count band: a day must receive expected x (1 +- tolerance) rows, or it is blocked.",
    )
    failure_rate_warning: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="Share of FAILED transactions above which the processed suite warns (never blocks).",
    )
    data_docs_index_limit: int = Field(
        default=100, ge=1, description="Latest validations listed on the Data Docs index (older pages stay on disk)."
    )

    # --- dashboard -------------------------------------------------------------------------
    dashboard_host: str = Field(default="127.0.0.1", description="Address the dashboard binds to.")
    dashboard_port: int = Field(default=7860, description="Port of the dashboard.")
    dashboard_auth: SecretStr | None = Field(
        default=None, description="'user:password' required when the dashboard binds beyond localhost."
    )
    dashboard_refresh_s: int = Field(
        default=600, ge=5, description="Auto-refresh period and query-cache TTL in seconds."
    )

    @field_validator("warehouse_url", "dashboard_warehouse_url", "dashboard_auth", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value in ("", None) else value

    # --- derived -----------------------------------------------------------------------------
    @property
    def data_is_local(self) -> bool:
        return "://" not in self.data_dir or self.data_dir.startswith("file://")

    @property
    def local_state_dir(self) -> Path:
        """Machine-local folder (embedded PostgreSQL, server pid files) even when data is remote."""
        if self.state_dir:
            return Path(self.state_dir).expanduser().resolve()
        if self.data_is_local:
            return Path(self.data_dir.removeprefix("file://")).expanduser().resolve()
        return Path(".bap").resolve()

    @property
    def embedded_pgdata(self) -> Path:
        return self.local_state_dir / "warehouse" / "pgdata"

    @property
    def uses_embedded_warehouse(self) -> bool:
        return self.warehouse_url is None

    def child_env(self, prefect_api_url: str) -> dict[str, str]:
        """The environment of a child process (`bap up`'s worker): this one, every resolved setting as BAP_*
        (local paths absolute), and the Prefect API it reports to."""
        env = {k: v for k, v in os.environ.items() if k != "BAP_PREFECT_API_URL"}
        for name, value in self.model_dump(exclude={"prefect_api_url"}, exclude_none=True).items():
            text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
            local = name in ("data_dir", "log_dir", "state_dir") and text and "://" not in text
            env[f"BAP_{name.upper()}"] = str(Path(text).expanduser().resolve()) if local else text
        return {**env, "PREFECT_API_URL": prefect_api_url}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; `get_settings.cache_clear()` re-reads the environment."""
    return Settings()


@contextmanager
def overridden(**values: object) -> Iterator[Settings]:
    """The settings with `values` in force for this process and the runs it starts in it (their
    tasks read `get_settings()`), through the environment like any other setting; restored after."""
    names = {field: f"BAP_{field.upper()}" for field in values}
    before = {name: os.environ.get(name) for name in names.values()}
    for field, value in values.items():
        os.environ[names[field]] = str(value)
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
