"""Dagster resources: the Authy API client and the project's file locations."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from authy_assets.client.settings import FetchSettings


class AuthyApiResource(dg.ConfigurableResource):
    """Client for Authy's phone-number export endpoint, with its rate limit and monthly quota."""

    base_url: str = Field(
        description="Authy API base URL, scheme and host only. Plain http is accepted for"
        " loopback hosts only."
    )
    api_key: str = Field(
        description="Authy app API key, sent in the X-Authy-API-Key header. Set it with"
        " EnvVar('AUTHY_API_KEY'), never as a literal.",
        repr=False,
    )
    state_dir: str = Field(
        description="Directory of the request ledger and the shared rate limiter. Every run that"
        " uses the same Authy app must use the same directory."
    )
    connect_timeout_seconds: float = Field(default=5.0, description="TCP and TLS connect timeout.")
    read_timeout_seconds: float = Field(default=30.0, description="Time to wait for a response.")
    concurrency: int = Field(
        default=100, description="Requests in flight at once; a slow API needs more."
    )
    rate_limit: int = Field(default=1500, description="Requests allowed per window for the app.")
    rate_window_seconds: float = Field(default=60.0, description="Length of the rate window.")
    rate_margin_seconds: float = Field(
        default=0.2,
        description="Seconds added to the window when spacing requests, to absorb network"
        " jitter; 0.2 s on a 60 s window uses at most 99.7% of the limit.",
    )
    monthly_quota: int = Field(
        default=3, description="Requests the API allows per user per calendar month (UTC)."
    )
    max_attempts_per_run: int = Field(
        default=2,
        description="Requests one run may send to one user, retries included. Below the monthly"
        " quota, so a later run this month can still ask a user whose answers all failed.",
    )
    backoff_base_seconds: float = Field(default=1.0, description="Base of the exponential retry delay.")
    backoff_max_seconds: float = Field(default=60.0, description="Maximum retry delay.")
    max_retry_after_seconds: float = Field(
        default=900.0,
        description="Longest Retry-After the client waits; a longer one is cut to this.",
    )
    progress_interval_seconds: float = Field(
        default=10.0, description="How often a fetch logs its progress."
    )

    def fetch_settings(self) -> FetchSettings:
        return FetchSettings(
            base_url=self.base_url,
            api_key=self.api_key,
            state_dir=Path(self.state_dir),
            connect_timeout_seconds=self.connect_timeout_seconds,
            read_timeout_seconds=self.read_timeout_seconds,
            concurrency=self.concurrency,
            rate_limit=self.rate_limit,
            rate_window_seconds=self.rate_window_seconds,
            rate_margin_seconds=self.rate_margin_seconds,
            monthly_quota=self.monthly_quota,
            max_attempts_per_run=self.max_attempts_per_run,
            backoff_base_seconds=self.backoff_base_seconds,
            backoff_max_seconds=self.backoff_max_seconds,
            max_retry_after_seconds=self.max_retry_after_seconds,
            progress_interval_seconds=self.progress_interval_seconds,
        )


class AuthyStorageResource(dg.ConfigurableResource):
    """Locations of the id list and of every file the assets write."""

    data_dir: str = Field(description="Root of the raw, phone and export files and of the state.")
    user_ids_path: str = Field(description="The list of Authy user ids (CSV, text or Parquet).")
    batch_size: int = Field(
        default=1000,
        description="Users per batch partition. A change applies to batches created afterwards.",
    )

    @property
    def root(self) -> Path:
        return Path(self.data_dir)

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def user_ids_file(self) -> Path:
        """The current id list with each user's batch, as the ``authy_user_ids`` asset wrote it."""
        return self.state_dir / "authy_user_ids.parquet"

    @property
    def rejects_file(self) -> Path:
        return self.state_dir / "authy_user_ids_rejected.csv"

    @property
    def batches_db(self) -> Path:
        return self.state_dir / "authy_batches.sqlite3"

    def raw_file(self, batch_key: str) -> Path:
        return self.root / "raw" / f"{batch_key}.parquet"

    def phones_file(self, batch_key: str) -> Path:
        return self.root / "phones" / f"{batch_key}.parquet"

    @property
    def export_file(self) -> Path:
        return self.root / "exports" / "authy_phone_numbers.parquet"
