"""Backoff delays and ``Retry-After`` parsing for retried Authy requests."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Return the seconds to wait that a ``Retry-After`` header requests, or None.

    The header contains either a number of seconds or an HTTP date. A date in the past gives 0;
    an unreadable value gives None, so the caller falls back to its own backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def backoff_delay(
    attempt: int, *, base_seconds: float, max_seconds: float, rng: random.Random
) -> float:
    """Return an exponential delay with jitter: half fixed, half random, capped at max_seconds."""
    ceiling = min(max_seconds, base_seconds * 2 ** max(0, attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def http_date(epoch_seconds: float) -> str:
    """Format a time as an HTTP date, as servers write it in ``Retry-After``."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
