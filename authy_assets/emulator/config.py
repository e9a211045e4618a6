"""Settings of the local Authy export API emulator.

Every behaviour that Twilio does not document is a setting here, with the default that the
project assumes. These are the statuses of errors 60026, 60154 and 60003, the calendar month
in UTC for the per-user quota, the sliding window for the per-key rate limit, and the absence
of Retry-After.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

LATENCY_MODES = ("realistic", "none")
FAULT_SETTINGS = ("fault_500", "fault_503_html", "fault_drop", "fault_slow", "fault_malformed_json")
# The ``authy-assets emulator`` option of each setting. Validation messages name both, so that
# they help callers of EmulatorConfig and users of the command line alike. ``clock`` has none.
CLI_OPTIONS = {
    "api_key": "--api-key or AUTHY_API_KEY",
    "host": "--host",
    "port": "--port",
    "seed": "--seed",
    "population_size": "--population-size",
    "export_disabled_share": "--export-disabled-share",
    "population_file": "--population",
    "rate_limit": "--rate-limit",
    "rate_window_seconds": "--rate-window",
    "monthly_quota": "--monthly-quota",
    "app_limited_counts_for_user": "--app-limited-counts-for-user/--app-limited-not-counted",
    "retry_after": "--retry-after",
    "not_found_status": "--not-found-status",
    "export_disabled_status": "--export-disabled-status",
    "rate_limited_status": "--rate-limited-status",
    "latency": "--latency",
    "latency_median_ms": "--latency-median-ms",
    "fault_500": "--fault-500",
    "fault_503_html": "--fault-503-html",
    "fault_drop": "--fault-drop",
    "fault_slow": "--fault-slow",
    "fault_malformed_json": "--fault-malformed-json",
    "slow_seconds": "--slow-seconds",
}


def setting_label(name: str) -> str:
    """Return a setting's field name followed by its command-line option, if it has one."""
    option = CLI_OPTIONS.get(name)
    return f"{name} ({option})" if option else name


@dataclass(frozen=True)
class EmulatorConfig:
    """Settings of one emulator instance. Invalid values raise ValueError on construction.

    The emulator checks each request in this order: API key (401, counted nowhere), rate limit
    per key, authy_id syntax (400), monthly quota per user, then faults. Requests rejected
    by the quota still count against it. ``app_limited_counts_for_user`` decides whether a
    request rejected by the rate limit also counts against its user's quota.

    The repr leaves out ``api_key``, so the key never reaches a log through this object.
    """

    api_key: str = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 0  # 0 lets the operating system pick a free port.

    # Users 1..population_size exist, and user 1 is Twilio's documented example.
    seed: int = 7
    population_size: int = 2200
    export_disabled_share: float = 0.05
    population_file: Path | None = None

    # Documented limits: 1500 requests per minute per app, 3 requests per month per user.
    rate_limit: int = 1500
    rate_window_seconds: float = 60.0
    monthly_quota: int = 3
    app_limited_counts_for_user: bool = True
    # Sent verbatim as Retry-After with every rate-limit or quota response when set.
    retry_after: str | None = None

    # HTTP statuses that Twilio does not document.
    not_found_status: int = 404  # error 60026
    export_disabled_status: int = 400  # error 60154
    rate_limited_status: int = 429  # error 60003

    # "realistic": lognormal around latency_median_ms (default 180 ms) with a tail to 2 s.
    latency: str = "realistic"
    latency_median_ms: float | None = None

    # Share of requests, after the key check and both limits, that get each fault. Faulted
    # requests count against the quota. fault_slow responds after slow_seconds.
    fault_500: float = 0.0
    fault_503_html: float = 0.0
    fault_drop: float = 0.0
    fault_slow: float = 0.0
    fault_malformed_json: float = 0.0
    slow_seconds: float = 30.0

    # Source of epoch seconds for the rate window and the calendar month of the quota.
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.population_file, str):
            object.__setattr__(self, "population_file", Path(self.population_file))
        self._validate_identity()
        self._validate_limits()
        self._validate_latency_and_faults()

    def _validate_identity(self) -> None:
        if not isinstance(self.api_key, str) or not self.api_key:
            raise ValueError(f"{setting_label('api_key')} must be a non-empty string")
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in self.api_key):
            raise ValueError(f"{setting_label('api_key')} must not contain control characters")
        if not isinstance(self.host, str) or not self.host:
            raise ValueError(
                f"{setting_label('host')} must be a non-empty string, got {self.host!r}"
            )
        _require_int("port", self.port, minimum=0, maximum=65535)
        _require_int("seed", self.seed)
        _require_int("population_size", self.population_size, minimum=0)
        _require_share("export_disabled_share", self.export_disabled_share)
        if self.population_file is not None and not isinstance(self.population_file, Path):
            raise ValueError(
                f"{setting_label('population_file')} must be a path or None,"
                f" got {self.population_file!r}"
            )
        if not callable(self.clock):
            raise ValueError(
                f"clock must be a callable returning epoch seconds, got {self.clock!r}"
            )

    def _validate_limits(self) -> None:
        _require_int("rate_limit", self.rate_limit, minimum=1)
        _require_float("rate_window_seconds", self.rate_window_seconds, positive=True)
        _require_int("monthly_quota", self.monthly_quota, minimum=1)
        if not isinstance(self.app_limited_counts_for_user, bool):
            raise ValueError(
                f"{setting_label('app_limited_counts_for_user')} must be True or False,"
                f" got {self.app_limited_counts_for_user!r}"
            )
        if self.retry_after is not None:
            if not isinstance(self.retry_after, str):
                raise ValueError(
                    f"{setting_label('retry_after')} must be a string or None,"
                    f" got {self.retry_after!r}"
                )
            if any(ord(char) < 0x20 or ord(char) == 0x7F for char in self.retry_after):
                raise ValueError(
                    f"{setting_label('retry_after')} must not contain control characters,"
                    f" got {self.retry_after!r}"
                )
        for name in ("not_found_status", "export_disabled_status", "rate_limited_status"):
            _require_int(name, getattr(self, name), minimum=400, maximum=599)

    def _validate_latency_and_faults(self) -> None:
        if self.latency not in LATENCY_MODES:
            raise ValueError(
                f"{setting_label('latency')} must be one of {', '.join(LATENCY_MODES)},"
                f" got {self.latency!r}"
            )
        if self.latency_median_ms is not None:
            _require_float("latency_median_ms", self.latency_median_ms, positive=True)
            if self.latency == "none":
                raise ValueError(
                    f"{setting_label('latency_median_ms')} requires latency 'realistic'"
                    f" ({CLI_OPTIONS['latency']} realistic), got 'none'"
                )
        for name in FAULT_SETTINGS:
            _require_share(name, getattr(self, name))
        total = sum(getattr(self, name) for name in FAULT_SETTINGS)
        if total > 1.0 + 1e-9:
            used = [setting_label(name) for name in FAULT_SETTINGS if getattr(self, name)]
            raise ValueError(
                f"fault shares add up to {total:g}, which is more than 1.0, so lower"
                f" {' or '.join(used)}"
            )
        _require_float("slow_seconds", self.slow_seconds, positive=False)


def parse_latency_option(text: str) -> tuple[str, float | None]:
    """Convert a command-line latency option into ``(latency, latency_median_ms)``.

    Accepts "realistic", "none", or a positive median in milliseconds such as "250", which
    keeps the realistic shape around that median.
    """
    cleaned = text.strip().lower()
    if cleaned in LATENCY_MODES:
        return cleaned, None
    try:
        median = float(cleaned)
    except ValueError:
        raise ValueError(
            f"latency must be 'realistic', 'none' or a median in ms, got {text!r}"
        ) from None
    if not math.isfinite(median) or median <= 0:
        raise ValueError(f"latency median must be a positive number of ms, got {text!r}")
    return "realistic", median


def _require_int(
    name: str, value: object, minimum: int | None = None, maximum: int | None = None
) -> None:
    label = setting_label(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{label} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{label} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{label} must be at most {maximum}, got {value}")


def _require_float(name: str, value: object, *, positive: bool) -> float:
    label = setting_label(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{label} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{label} must be finite, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{label} must be positive, got {value!r}")
    if not positive and value < 0:
        raise ValueError(f"{label} must not be negative, got {value!r}")
    return float(value)


def _require_share(name: str, value: object) -> None:
    share = _require_float(name, value, positive=False)
    if share > 1.0:
        raise ValueError(
            f"{setting_label(name)} must be a share between 0.0 and 1.0, got {value!r}"
        )
