"""Read the list of Authy user ids from a CSV, plain-text or Parquet file.

A valid id is a cell of ASCII digits only, after surrounding whitespace and quotes are stripped,
whose value is between 1 and the int64 maximum. Every other non-blank cell becomes a
``RejectedLine``, and the caller decides whether rejects stop the export. A reject's ``raw`` text
is the id cell only, never the other columns of its row, which may hold personal data.

Modules: ``cells`` parses one id cell, ``text`` reads CSV and plain text, ``parquet`` reads
Parquet, ``reader`` picks between them, and ``results`` contains the result types and
write_rejects. The read limits (MAX_LINE_BYTES, SNIFF_LINES, PARQUET_BATCH_ROWS) live in the
reader modules that use them, so change them there, not on this package.
"""

from authy_assets.ids.cells import (
    DECIMAL_POINT,
    DIGIT_GROUPING,
    EMPTY_ID_CELL,
    EXPONENT,
    ID_COLUMN,
    INT64_MAX,
    MISSING_ID_CELL,
    NEGATIVE,
    NON_ASCII_DIGITS,
    NOT_AN_INTEGER,
    PLUS_SIGN,
    TOO_LARGE,
    ZERO,
    id_column_index,
    parse_id_cell,
)
from authy_assets.ids.reader import read_user_ids
from authy_assets.ids.results import (
    MAX_STORED_REJECTS,
    RAW_TEXT_LIMIT,
    IdCollector,
    IdList,
    IdListError,
    RejectedLine,
    write_rejects,
)

__all__ = [
    "DECIMAL_POINT",
    "DIGIT_GROUPING",
    "EMPTY_ID_CELL",
    "EXPONENT",
    "ID_COLUMN",
    "INT64_MAX",
    "MAX_STORED_REJECTS",
    "MISSING_ID_CELL",
    "NEGATIVE",
    "NON_ASCII_DIGITS",
    "NOT_AN_INTEGER",
    "PLUS_SIGN",
    "RAW_TEXT_LIMIT",
    "TOO_LARGE",
    "ZERO",
    "IdCollector",
    "IdList",
    "IdListError",
    "RejectedLine",
    "id_column_index",
    "parse_id_cell",
    "read_user_ids",
    "write_rejects",
]
