"""Settings of the Authy API client, checked once before any request is sent."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


class AuthySettingsError(ValueError):
    """A client setting is invalid; the message names the setting and how to fix it."""


@dataclass(frozen=True)
class FetchSettings:
    """Everything the fetch loop needs. ``api_key`` is left out of the repr."""

    base_url: str
    api_key: str = field(repr=False)
    state_dir: Path
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    concurrency: int = 100
    rate_limit: int = 1500
    rate_window_seconds: float = 60.0
    rate_margin_seconds: float = 0.5
    monthly_quota: int = 3
    max_attempts_per_run: int = 2
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    max_retry_after_seconds: float = 900.0
    progress_interval_seconds: float = 10.0

    def __post_init__(self) -> None:
        check_base_url(self.base_url)
        if not self.api_key or not self.api_key.strip():
            raise AuthySettingsError(
                "the Authy API key is empty: set AUTHY_API_KEY to the app's API key"
            )
        positive = {
            "connect_timeout_seconds": self.connect_timeout_seconds,
            "read_timeout_seconds": self.read_timeout_seconds,
            "rate_window_seconds": self.rate_window_seconds,
            "backoff_base_seconds": self.backoff_base_seconds,
            "backoff_max_seconds": self.backoff_max_seconds,
            "progress_interval_seconds": self.progress_interval_seconds,
        }
        for name, value in positive.items():
            if not value > 0:
                raise AuthySettingsError(f"{name} must be a positive number of seconds, got {value}")
        at_least_one = {
            "concurrency": self.concurrency,
            "rate_limit": self.rate_limit,
            "monthly_quota": self.monthly_quota,
            "max_attempts_per_run": self.max_attempts_per_run,
        }
        for name, value in at_least_one.items():
            if not isinstance(value, int) or value < 1:
                raise AuthySettingsError(f"{name} must be a whole number of at least 1, got {value}")
        if self.rate_margin_seconds < 0:
            raise AuthySettingsError(
                f"rate_margin_seconds must not be negative, got {self.rate_margin_seconds}"
            )
        if self.max_retry_after_seconds < 0:
            raise AuthySettingsError(
                f"max_retry_after_seconds must not be negative, got {self.max_retry_after_seconds}"
            )

    @property
    def api_scope(self) -> str:
        """The Authy app the quota and rate limit belong to, identified by its base URL."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}".lower()

    @property
    def ledger_path(self) -> Path:
        return Path(self.state_dir) / "authy_ledger.sqlite3"

    @property
    def limiter_path(self) -> Path:
        return Path(self.state_dir) / "authy_rate_limiter.sqlite3"


def check_base_url(base_url: str) -> None:
    """Reject a base URL that would send the API key in clear text or is not a URL at all.

    Plain ``http://`` is allowed for loopback hosts only (the bundled emulator).
    """
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise AuthySettingsError(
            f"AUTHY_API_URL {base_url!r} is not an http(s) URL: use e.g. https://api.authy.com"
        )
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise AuthySettingsError(
            f"AUTHY_API_URL {base_url!r} must be a scheme and host only, without a path or query"
        )
    if parts.username or parts.password:
        raise AuthySettingsError("AUTHY_API_URL must not contain credentials")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise AuthySettingsError(
            f"AUTHY_API_URL {base_url!r} uses plain http for a host that is not loopback; the API"
            " key travels in a header, so use https:// (http is allowed for 127.0.0.1, ::1 and"
            " localhost only)"
        )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
