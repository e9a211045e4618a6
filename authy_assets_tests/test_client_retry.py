"""Unit tests of Retry-After parsing and retry backoff (pure logic, no HTTP)."""

from __future__ import annotations

import calendar
import random

import pytest

from authy_assets.client.retry import backoff_delay, http_date, parse_retry_after

# 2015-10-21T07:27:00Z, one minute before the dates in the table below.
NOW = float(calendar.timegm((2015, 10, 21, 7, 27, 0)))

PARSED = [
    ("0", 0.0),
    ("5", 5.0),
    (" 5 ", 5.0),
    ("120", 120.0),
    ("0005", 5.0),
    ("99999999999999999999", 1e20),
    # The three date formats that HTTP recipients must accept (RFC 9110, section 5.6.7).
    ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
    ("Wednesday, 21-Oct-15 07:28:00 GMT", 60.0),
    ("Wed Oct 21 07:28:00 2015", 60.0),
    # A date with a numeric zone, and one without a zone read as UTC.
    ("Wed, 21 Oct 2015 08:28:00 +0100", 60.0),
    ("Wed, 21 Oct 2015 07:28:00", 60.0),
    # Dates in the past and the present give no wait.
    ("Wed, 21 Oct 2015 07:26:00 GMT", 0.0),
    ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ("Mon, 01 Jan 1990 00:00:00 GMT", 0.0),
]


@pytest.mark.parametrize(("value", "expected"), PARSED)
def test_parse_retry_after(value: str, expected: float) -> None:
    assert parse_retry_after(value, now=NOW) == expected


UNREADABLE = [
    None,
    "",
    "   ",
    "-1",
    "+5",
    "1.5",
    "1e3",
    "5 s",
    "nan",
    "inf",
    "soon",
    "\u0661\u0662",  # Arabic-Indic digits: str.isdigit accepts them, HTTP does not.
    "Wed, 32 Oct 2015 07:28:00 GMT",
    "Wed, 21 Oct 99999 07:28:00 GMT",
    "¯\\_(ツ)_/¯",
]


@pytest.mark.parametrize("value", UNREADABLE)
def test_parse_retry_after_unreadable(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_http_date_round_trip() -> None:
    assert http_date(NOW + 90) == "Wed, 21 Oct 2015 07:28:30 GMT"
    assert parse_retry_after(http_date(NOW + 90), now=NOW) == 90.0


def test_backoff_doubles_up_to_max() -> None:
    rng = random.Random(1)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 10.0), (60, 10.0)]:
        for _ in range(50):
            delay = backoff_delay(attempt, base_seconds=1.0, max_seconds=10.0, rng=rng)
            assert ceiling / 2 <= delay <= ceiling, (attempt, delay)


def test_backoff_has_jitter() -> None:
    rng = random.Random(2)
    delays = {backoff_delay(3, base_seconds=1.0, max_seconds=60.0, rng=rng) for _ in range(20)}

    assert len(delays) == 20
