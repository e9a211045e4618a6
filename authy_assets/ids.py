"""Read the list of Authy user ids from a CSV, plain-text or Parquet file.

A valid id is a cell of ASCII digits only, after surrounding whitespace and quotes are stripped,
whose value is between 1 and the int64 maximum. Leading zeros are accepted without a note, so
"007" is the id 7. Every other non-blank cell becomes a ``RejectedLine``, and the caller decides
whether rejects stop the export. A reject's ``raw`` text is the id cell only, never the other
columns of its row, which may hold personal data.

Text files are read one line at a time, so memory grows with the number of distinct ids and the
stored rejects, not with the file size.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq


INT64_MAX = 2**63 - 1
ID_COLUMN = "authy_id"
MAX_STORED_REJECTS = 10_000
MAX_LINE_BYTES = 1 << 20
PARQUET_BATCH_ROWS = 65_536
RAW_TEXT_LIMIT = 80
SNIFF_LINES = 50
DELIMITERS = (",", ";", "\t", "|")
QUOTES = "\"'"
UTF8_BOM = b"\xef\xbb\xbf"

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
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_ .\-]*")
_NULL_WORDS = frozenset({"nan", "null", "none", "na", "nil"})
_SEP_LINE_RE = re.compile(r'"?sep=([^"\r\n])"?', re.IGNORECASE)

# Leading bytes of formats that are not an id list, with the name used in the error message.
_FOREIGN_MAGIC = (
    (b"PK\x03\x04", "a zip archive or Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ", "an xz archive"),
    (b"%PDF", "a PDF document"),
    (b"SQLite format 3", "an SQLite database"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
)
_FOREIGN_SUFFIXES = {
    ".xlsx": "an Excel workbook",
    ".xls": "an Excel workbook",
    ".json": "JSON",
    ".zip": "a zip archive",
    ".gz": "a gzip archive",
}


class IdListError(ValueError):
    """Error for an id list that cannot be read at all. The message names the file and the fix."""


@dataclass(frozen=True)
class RejectedLine:
    """A line (a row for Parquet) whose id cell is not a valid id."""

    line_number: int
    raw: str
    reason: str


@dataclass(frozen=True)
class IdList:
    """Distinct ids in first-seen order, with what was rejected or collapsed on the way.

    ``rejects`` contains at most ``MAX_STORED_REJECTS`` entries, and ``rejected_count`` counts
    all of them.
    """

    ids: npt.NDArray[np.int64]
    rejects: list[RejectedLine]
    rejected_count: int
    duplicates: int
    lines_read: int
    format: str


class IdCollector:
    """Accumulator of distinct ids and rejects, shared by the text and Parquet readers."""

    def __init__(self) -> None:
        self.order = array("q")
        self.seen: set[int] = set()
        self.rejects: list[RejectedLine] = []
        self.rejected_count = 0
        self.duplicates = 0

    def accept(self, value: int) -> None:
        if value in self.seen:
            self.duplicates += 1
        else:
            self.seen.add(value)
            self.order.append(value)

    def reject(self, line_number: int, raw: str, reason: str) -> None:
        self.rejected_count += 1
        if len(self.rejects) < MAX_STORED_REJECTS:
            if len(raw) > RAW_TEXT_LIMIT:
                raw = raw[: RAW_TEXT_LIMIT - 1] + "…"
            self.rejects.append(RejectedLine(line_number, raw, reason))


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
    matches = [i for i, name in enumerate(names) if _is_id_column(name)]
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


def read_user_ids(path: Path) -> IdList:
    """Read the distinct user ids of a CSV, plain-text or Parquet id list, in first-seen order.

    Raises IdListError when the file is missing, empty, binary, not UTF-8, of an unsupported
    format, or contains no id and no rejected line (for example only a header).
    """
    path = Path(path)
    head = _read_head(path)
    collector = IdCollector()
    if path.suffix.lower() == ".parquet" or head.startswith(b"PAR1"):
        file_format = "parquet"
        lines_read = _read_parquet(path, collector)
    else:
        _check_not_foreign(path, head)
        with open(path, "rb") as handle:
            file_format, lines_read = _read_text(path, handle, collector)

    if not collector.order and not collector.rejected_count:
        raise IdListError(
            f"User id list {path} contains no user ids (lines read: {lines_read}, all blank or a"
            " header); check that the export that wrote it finished."
        )
    return IdList(
        ids=np.frombuffer(collector.order, dtype=np.int64),
        rejects=collector.rejects,
        rejected_count=collector.rejected_count,
        duplicates=collector.duplicates,
        lines_read=lines_read,
        format=file_format,
    )


def _read_head(path: Path) -> bytes:
    if not path.exists():
        raise IdListError(f"User id list not found: {path}; check the path or export it there.")
    if path.is_dir():
        raise IdListError(f"User id list {path} is a directory; pass the path of the file.")
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as err:
        raise IdListError(f"User id list {path} cannot be read: {err.strerror}.") from None
    if not head:
        raise IdListError(f"User id list {path} is empty: it contains no user ids.")
    return head


def _check_not_foreign(path: Path, head: bytes) -> None:
    found = _FOREIGN_SUFFIXES.get(path.suffix.lower())
    for magic, name in _FOREIGN_MAGIC:
        if head.startswith(magic):
            found = name
    if found:
        raise IdListError(
            f"User id list {path} has an unsupported format ({found}); save it as CSV"
            " (UTF-8), plain text with one id per line, or Parquet."
        )


def _decoded_lines(path: Path, handle: BinaryIO, counter: list[int]) -> Iterator[str]:
    """Yield each physical line decoded as UTF-8 with its line end, counting it in counter[0]."""
    offset = 0
    while raw := handle.readline(MAX_LINE_BYTES + 1):
        start = offset
        offset += len(raw)
        counter[0] += 1
        if len(raw) > MAX_LINE_BYTES:
            raise IdListError(
                f"User id list {path} has a line longer than {MAX_LINE_BYTES} bytes at line"
                f" {counter[0]}; it is not an id list, or its line ends are missing."
            )
        if start == 0 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]
            start = len(UTF8_BOM)
        nul = raw.find(b"\x00")
        if nul >= 0:
            raise IdListError(
                f"User id list {path} contains a NUL byte at byte offset {start + nul}"
                f" (line {counter[0]}), so it looks like a binary file; pass a CSV, plain-text"
                " or Parquet file."
            )
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise IdListError(
                f"User id list {path} is not valid UTF-8 at byte offset {start + err.start}"
                f" (line {counter[0]}); save it as UTF-8."
            ) from None


def _read_text(path: Path, handle: BinaryIO, collector: IdCollector) -> tuple[str, int]:
    counter = [0]
    lines = _decoded_lines(path, handle, counter)
    sample = _take_sample(lines)
    if sample and "\r" in sample[0].rstrip("\r\n"):
        raise IdListError(
            f"User id list {path} uses CR line ends (classic Mac OS); convert it to LF or CRLF."
        )

    consumed = 0
    sep_line = _SEP_LINE_RE.fullmatch(sample[0].strip()) if sample else None
    if sep_line:
        delimiter: str | None = sep_line.group(1)
        consumed = 1
        sample = sample[1:]
    else:
        delimiter = _pick_delimiter(sample)

    rest = chain(sample, lines)
    if delimiter is None:
        _collect_single_column(path, rest, collector)
    else:
        _collect_columns(path, rest, delimiter, consumed, collector, counter)
    is_csv = delimiter is not None or path.suffix.lower() in {".csv", ".tsv"}
    return ("csv" if is_csv else "text"), counter[0]


def _take_sample(lines: Iterator[str]) -> list[str]:
    """Read the lines that the delimiter is picked from: SNIFF_LINES non-blank ones at most."""
    sample: list[str] = []
    non_blank = 0
    size = 0
    for line in lines:
        sample.append(line)
        non_blank += bool(line.strip())
        size += len(line)
        if non_blank >= SNIFF_LINES or len(sample) >= 10 * SNIFF_LINES or size >= MAX_LINE_BYTES:
            break
    return sample


def _pick_delimiter(sample: list[str]) -> str | None:
    """Return the delimiter of the sample lines, or None for a single-column file.

    A delimiter that splits off an ``authy_id`` cell in the first line wins. Otherwise the
    delimiter must split the first non-blank line and at least half of the rows. Ties go to the
    delimiter whose rows all have the same number of cells, then to the earlier one in DELIMITERS.
    """
    content = [line for line in sample if line.strip()]
    if not content:
        return None
    best: str | None = None
    best_score = (0, False)
    for delimiter in DELIMITERS:
        first_cells = content[0].split(delimiter)
        if len(first_cells) > 1 and any(_is_id_column(cell) for cell in first_cells):
            return delimiter
        widths = _row_widths(content, delimiter)
        if widths[0] < 2:
            continue
        split_widths = [width for width in widths if width > 1]
        if 2 * len(split_widths) < len(widths):
            continue
        score = (len(split_widths), len(set(split_widths)) == 1)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _row_widths(lines: list[str], delimiter: str) -> list[int]:
    """Return the cell count of each CSV row, or of each line when the lines do not parse."""
    try:
        return [len(row) for row in csv.reader(lines, delimiter=delimiter)] or [0]
    except csv.Error:
        return [line.count(delimiter) + 1 for line in lines]


def _is_id_column(name: str) -> bool:
    return name.strip().strip(QUOTES).strip().lower() == ID_COLUMN


def _header_names(cells: list[str]) -> list[str] | None:
    """Return the column names when ``cells`` is a header row, else None."""
    names = [cell.strip().strip(QUOTES).strip() for cell in cells]
    if any(_is_id_column(name) for name in names):
        return names
    first = names[0] if names else ""
    if isinstance(parse_id_cell(first), int) or first.lower() in _NULL_WORDS:
        return None
    return names if _NAME_RE.fullmatch(first) else None


def _collect_single_column(path: Path, lines: Iterable[str], collector: IdCollector) -> None:
    line_number = 0
    header_checked = False
    for line in lines:
        line_number += 1
        value = parse_id_cell(line)
        if value is None:
            continue
        if not header_checked:
            header_checked = True
            header = _header_names([line])
            if header is not None:
                id_column_index(header, path)
                continue
        if isinstance(value, int):
            collector.accept(value)
        else:
            collector.reject(line_number, line.rstrip("\r\n"), value)


def _collect_columns(
    path: Path,
    lines: Iterable[str],
    delimiter: str,
    consumed: int,
    collector: IdCollector,
    counter: list[int],
) -> None:
    # csv.reader joins a quoted cell that spans lines into one row, and reader.line_num counts
    # the physical lines it has consumed, so a row starts one line after the previous row ended.
    # strict=True turns an unclosed quote into an error instead of one cell that hides every
    # later line of the file.
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    id_index: int | None = None
    previous_end = 0
    try:
        for cells in reader:
            line_number = consumed + previous_end + 1
            previous_end = reader.line_num
            if id_index is None:
                if not any(cell.strip() for cell in cells):
                    continue
                header = _header_names(cells)
                if header is not None:
                    id_index = id_column_index(header, path)
                    continue
                id_index = 0

            cell = cells[id_index] if id_index < len(cells) else None
            value = None if cell is None else parse_id_cell(cell)
            if isinstance(value, int):
                collector.accept(value)
            elif value is not None:
                collector.reject(line_number, cell or "", value)
            elif any(other.strip() for other in cells):
                reason = MISSING_ID_CELL if cell is None else EMPTY_ID_CELL
                collector.reject(line_number, cell or "", reason)
    except csv.Error as err:
        raise IdListError(
            f"User id list {path} is not valid CSV in the row that starts at line"
            f" {consumed + previous_end + 1}: {err}; check the quoting of that row."
        ) from None


def _read_parquet(path: Path, collector: IdCollector) -> int:
    """Collect the ids of the ``authy_id`` column one record batch at a time, and count the rows."""
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise IdListError(
            f"User id list {path} is not a readable Parquet file ({err}); write it again."
        ) from None
    names = list(parquet.schema_arrow.names)
    name = names[id_column_index(names, path)]
    column_type = parquet.schema_arrow.field(name).type
    if pa.types.is_dictionary(column_type):
        column_type = column_type.value_type
    is_integer = pa.types.is_integer(column_type)
    if not (is_integer or pa.types.is_string(column_type) or pa.types.is_large_string(column_type)):
        raise IdListError(
            f"User id list {path} has an {ID_COLUMN} column of type {column_type}; write the ids"
            " as int64 or as strings of digits."
        )

    rows = 0
    try:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=[name]):
            column = batch.column(0)
            if isinstance(column, pa.DictionaryArray):
                column = column.dictionary_decode()
            if is_integer:
                _collect_int_column(column, rows, collector)
            else:
                _collect_string_column(column, rows, collector)
            rows += len(column)
    except (pa.ArrowException, OSError) as err:
        raise IdListError(
            f"User id list {path} is a damaged Parquet file near row {rows + 1} ({err});"
            " write it again."
        ) from None
    return rows


def _collect_int_column(column: pa.Array, first_row: int, collector: IdCollector) -> None:
    nulls = column.is_null().to_numpy(zero_copy_only=False)
    values = column.fill_null(1).to_numpy(zero_copy_only=False)
    if values.dtype.kind == "u":
        too_large = values > np.uint64(INT64_MAX)
    else:
        too_large = np.zeros(len(values), dtype=bool)
    signed = values.astype(np.int64)
    invalid = nulls | too_large | (signed < 1)
    for index in np.flatnonzero(invalid).tolist():
        if nulls[index]:
            reason = EMPTY_ID_CELL
        elif too_large[index]:
            reason = TOO_LARGE
        else:
            reason = ZERO if signed[index] == 0 else NEGATIVE
        raw = "" if nulls[index] else str(values[index])
        collector.reject(first_row + index + 1, raw, reason)
    for value in signed[~invalid].tolist():
        collector.accept(value)


def _collect_string_column(column: pa.Array, first_row: int, collector: IdCollector) -> None:
    for index, cell in enumerate(column.to_pylist()):
        value = EMPTY_ID_CELL if cell is None else parse_id_cell(cell)
        if isinstance(value, int):
            collector.accept(value)
        else:
            # A Parquet row always exists, so a null or blank id cell is a reject, not a skip.
            collector.reject(first_row + index + 1, cell or "", value or EMPTY_ID_CELL)


def write_rejects(rejects: Iterable[RejectedLine], path: Path) -> None:
    """Write ``rejects`` as CSV (line_number, raw, reason), replacing ``path`` atomically.

    Only the rejects passed in are written, which for an IdList are at most
    MAX_STORED_REJECTS. IdList.rejected_count has the full count.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["line_number", "raw", "reason"])
            for reject in rejects:
                writer.writerow([reject.line_number, reject.raw, reject.reason])
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
