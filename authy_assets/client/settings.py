"""Settings of the Authy API client, checked once before any request is sent."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


_SCOPE_LABEL = b"authy-assets ledger scope"

# Upper bounds of the whole-number settings. Each is far above any useful value, so a larger
# value is a typo that would otherwise run with nonsense limits or fail deep inside a run.
# The real API allows 1500 requests a minute, and the emulator tests run at up to 60,000.
MAX_RATE_LIMIT = 1_000_000
# One asyncio task per request in flight, and one httpx client per 8 of them.
MAX_CONCURRENCY = 10_000
# The real API allows 3 requests per user a month.
MAX_MONTHLY_QUOTA = 1_000
MAX_ATTEMPTS_PER_RUN = 1_000


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
    rate_margin_seconds: float = 0.2
    monthly_quota: int = 3
    max_attempts_per_run: int = 2
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    max_retry_after_seconds: float = 900.0
    progress_interval_seconds: float = 10.0

    def __post_init__(self) -> None:
        check_base_url(self.base_url)
        check_api_key(self.api_key)
        positive = {
            "connect_timeout_seconds": self.connect_timeout_seconds,
            "read_timeout_seconds": self.read_timeout_seconds,
            "rate_window_seconds": self.rate_window_seconds,
            "backoff_base_seconds": self.backoff_base_seconds,
            "backoff_max_seconds": self.backoff_max_seconds,
            "progress_interval_seconds": self.progress_interval_seconds,
        }
        for name, value in positive.items():
            if not _is_finite_number(value) or not value > 0:
                raise AuthySettingsError(
                    f"{name} must be a positive number of seconds, got {value!r}"
                )
        whole_numbers = {
            "concurrency": (self.concurrency, MAX_CONCURRENCY),
            "rate_limit": (self.rate_limit, MAX_RATE_LIMIT),
            "monthly_quota": (self.monthly_quota, MAX_MONTHLY_QUOTA),
            "max_attempts_per_run": (self.max_attempts_per_run, MAX_ATTEMPTS_PER_RUN),
        }
        for name, (value, maximum) in whole_numbers.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise AuthySettingsError(
                    f"{name} must be a whole number of at least 1, got {value!r}"
                )
            if value > maximum:
                raise AuthySettingsError(
                    f"{name} must be a whole number from 1 to {maximum:,}, got {value!r}"
                )
        not_negative = {
            "rate_margin_seconds": self.rate_margin_seconds,
            "max_retry_after_seconds": self.max_retry_after_seconds,
        }
        for name, value in not_negative.items():
            if not _is_finite_number(value) or value < 0:
                raise AuthySettingsError(
                    f"{name} must be a number of seconds that is not negative, got {value!r}"
                )

    @property
    def api_scope(self) -> str:
        """The Authy app that the quota and the rate limit belong to.

        An app is identified by its API key, so two apps exported into one data directory
        never share request counts or stored responses. The scope is a keyed SHA-256 digest of
        the key, cut to 16 hex digits, so the key itself is never written to the ledger.
        """
        digest = hmac.new(_SCOPE_LABEL, self.api_key.encode(), hashlib.sha256).hexdigest()
        return f"app-{digest[:16]}"

    @property
    def ledger_path(self) -> Path:
        return Path(self.state_dir) / "authy_ledger.sqlite3"

    @property
    def limiter_path(self) -> Path:
        return Path(self.state_dir) / "authy_rate_limiter.sqlite3"


def check_api_key(api_key: str) -> None:
    """Reject an API key that is empty or could not be sent as a header value.

    For a key with a line break or surrounding spaces, httpx 0.28.1 (through h11) raises
    LocalProtocolError with the header value in its message before anything is sent. The
    fetch loop would record that as a connection failure, which spends the user's monthly
    quota. The messages here never contain the key.
    """
    if not isinstance(api_key, str) or not api_key.strip():
        raise AuthySettingsError(
            "the Authy API key is empty: set AUTHY_API_KEY to the app's API key"
        )
    if not all("!" <= char <= "~" for char in api_key):
        raise AuthySettingsError(
            "the Authy API key contains a space, a line break, a control character or a"
            " character outside ASCII: set AUTHY_API_KEY to the key alone, without quotes or"
            " surrounding whitespace"
        )


def check_base_url(base_url: str) -> None:
    """Reject a base URL that would send the API key in clear text or is not a URL at all.

    Plain ``http://`` is allowed for loopback hosts only (the bundled emulator).
    """
    if not isinstance(base_url, str):
        raise AuthySettingsError(f"AUTHY_API_URL must be a string, got {type(base_url).__name__}")
    # Checked first, so that no message below repeats a password from the URL.
    if "@" in base_url:
        raise AuthySettingsError("AUTHY_API_URL must not contain credentials")
    if not all("!" <= char <= "~" for char in base_url):
        raise AuthySettingsError(
            f"AUTHY_API_URL {base_url!r} contains a space, a control character or a character"
            " outside ASCII: use e.g. https://api.authy.com"
        )
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError as error:
        raise AuthySettingsError(
            f"AUTHY_API_URL {base_url!r} is not a valid URL ({error}): use e.g."
            " https://api.authy.com"
        ) from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise AuthySettingsError(
            f"AUTHY_API_URL {base_url!r} is not an http(s) URL: use e.g. https://api.authy.com"
        )
    # An empty "?" or "#" would still end up in every request URL, before the path.
    if parts.path not in {"", "/"} or "?" in base_url or "#" in base_url:
        raise AuthySettingsError(
            f"AUTHY_API_URL {base_url!r} must be a scheme and host only, without a path or query"
        )
    if port == 0:
        raise AuthySettingsError(
            f"AUTHY_API_URL {base_url!r} has port 0: leave the port out or give one from 1 to"
            " 65535"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise AuthySettingsError(
            f"AUTHY_API_URL {base_url!r} uses plain http for a host that is not loopback; the API"
            " key travels in a header, so use https:// (http is allowed for 127.0.0.1, ::1 and"
            " localhost only)"
        )


def _is_finite_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        # An int beyond the float range, such as 10**400.
        return False


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
