"""Parsing of the ``updated_at`` timestamp of an exported phone number."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class ParsedTimestamp:
    """UTC-aware timestamp read from text, with a note on anything doubtful."""

    value: datetime | None
    problem: str | None


def _timestamp_from_epoch(text: str) -> ParsedTimestamp:
    try:
        value = datetime.fromtimestamp(float(text), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return ParsedTimestamp(None, "updated_at epoch seconds are out of range")
    return ParsedTimestamp(value, None)


def parse_updated_at(text: str | None) -> ParsedTimestamp:
    """Parse updated_at into a UTC-aware datetime.

    Accepts ISO-8601 with "Z" or an offset, with or without fractional seconds, a
    trailing " UTC", a date alone (midnight), and epoch seconds written as digits.
    A value without a time zone is read as UTC and noted. Unparseable text gives
    value None and a problem note. Never raises.
    """
    if text is None:
        return ParsedTimestamp(None, "updated_at is missing")

    cleaned = text.strip()
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", cleaned):
        # NOTE: an ISO basic date such as 20211209 is read as epoch seconds here.
        return _timestamp_from_epoch(cleaned)

    if cleaned.endswith(" UTC"):
        cleaned = cleaned.removesuffix(" UTC") + "+00:00"
    if cleaned.endswith("z"):
        cleaned = cleaned[:-1] + "Z"
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        return ParsedTimestamp(None, "updated_at is not an ISO-8601 timestamp")

    if value.tzinfo is None:
        return ParsedTimestamp(
            value.replace(tzinfo=UTC), "updated_at has no time zone and was read as UTC"
        )
    try:
        return ParsedTimestamp(value.astimezone(UTC), None)
    except OverflowError:
        return ParsedTimestamp(None, "updated_at is out of range in UTC")
