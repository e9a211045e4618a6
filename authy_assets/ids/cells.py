"""Parsing of one id cell, the reasons a cell is rejected, and lookup of the id column.

A valid id is a cell of ASCII digits only, after surrounding whitespace and quotes are stripped,
whose value is between 1 and the int64 maximum. Leading zeros are accepted without a note, so
"007" is the id 7.
"""

from __future__ import annotations

import re
from pathlib import Path

from authy_assets.ids.results import IdListError


INT64_MAX = 2**63 - 1
ID_COLUMN = "authy_id"
QUOTES = "\"'"

NOT_AN_INTEGER = "not an integer"
NON_ASCII_DIGITS = "contains non-ASCII digits"
NEGATIVE = "negative"
PLUS_SIGN = "plus sign"
ZERO = "zero"
TOO_LARGE = f"larger than the int64 maximum {INT64_MAX}"
DECIMAL_POINT = "decimal point"
EXPONENT = "exponent notation"
DIGIT_GROUPING = "digit group separator"
EMPTY_ID_CELL = "empty authy_id cell"
MISSING_ID_CELL = "missing authy_id cell"

_EXPONENT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+")
_DECIMAL_RE = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_GROUP_SEPARATORS = str.maketrans("", "", ",_ '\u00a0\u202f")


def parse_id_cell(cell: str) -> int | str | None:
    """Parse one id cell: the id as an int, a reject reason as a str, or None for a blank cell."""
    text = cell.strip().strip(QUOTES).strip()
    if not text:
        return None
    if text.isdigit() and text.isascii():
        significant = text.lstrip("0")
        if not significant:
            return ZERO
        if len(significant) > len(str(INT64_MAX)):
            return TOO_LARGE
        value = int(significant)
        return value if value <= INT64_MAX else TOO_LARGE
    return _invalid_reason(text)


def _invalid_reason(text: str) -> str:
    sign, body = text[0], text[1:]
    if sign in "+-" and body.isdigit():
        if not body.isascii():
            return NON_ASCII_DIGITS
        return NEGATIVE if sign == "-" else PLUS_SIGN
    if any(char.isdigit() and not char.isascii() for char in text):
        return NON_ASCII_DIGITS
    if _EXPONENT_RE.fullmatch(text):
        return EXPONENT
    if _DECIMAL_RE.fullmatch(text):
        return DECIMAL_POINT
    ungrouped = text.translate(_GROUP_SEPARATORS)
    if ungrouped != text and ungrouped.isdigit():
        return DIGIT_GROUPING
    return NOT_AN_INTEGER


def id_column_index(names: list[str], path: Path) -> int:
    """Return the index of the ``authy_id`` column (case-insensitive, stripped) in ``names``."""
    matches = [i for i, name in enumerate(names) if is_id_column(name)]
    if len(matches) > 1:
        raise IdListError(
            f"User id list {path} has {len(matches)} columns named {ID_COLUMN}"
            f" (columns found: {names}); keep one of them."
        )
    if not matches:
        raise IdListError(
            f"User id list {path} has a header without an {ID_COLUMN} column (columns found:"
            f" {names}); rename the id column to {ID_COLUMN}, or delete the header line of a"
            " file without a header."
        )
    return matches[0]


def is_id_column(name: str) -> bool:
    return name.strip().strip(QUOTES).strip().lower() == ID_COLUMN
