"""Reader of CSV and plain-text id lists, with the line number of every rejected cell.

Text files are read one line at a time, so memory grows with the number of distinct ids and the
stored rejects, not with the file size.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from authy_assets.ids.cells import (
    EMPTY_ID_CELL,
    MISSING_ID_CELL,
    QUOTES,
    id_column_index,
    is_id_column,
    parse_id_cell,
)
from authy_assets.ids.results import IdCollector, IdListError


MAX_LINE_BYTES = 1 << 20
SNIFF_LINES = 50
DELIMITERS = (",", ";", "\t", "|")
UTF8_BOM = b"\xef\xbb\xbf"

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_ .\-]*")
_NULL_WORDS = frozenset({"nan", "null", "none", "na", "nil"})
_SEP_LINE_RE = re.compile(r'"?sep=([^"\r\n])"?', re.IGNORECASE)


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


def read_text(path: Path, handle: BinaryIO, collector: IdCollector) -> tuple[str, int]:
    """Collect the ids of a CSV or plain-text file, and return its format and line count."""
    counter = [0]
    lines = _decoded_lines(path, handle, counter)
    sample = _take_sample(lines)
    if sample and "\r" in sample[0].rstrip("\r\n"):
        raise IdListError(
            f"User id list {path} uses CR line ends (classic Mac OS); convert it to LF or CRLF."
        )

    consumed = 0
    # Strip spaces and the line end only: a tab is the delimiter of "sep=<TAB>".
    sep_line = _SEP_LINE_RE.fullmatch(sample[0].rstrip("\r\n").strip(" ")) if sample else None
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
        if len(first_cells) > 1 and any(is_id_column(cell) for cell in first_cells):
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


def _header_names(cells: list[str]) -> list[str] | None:
    """Return the column names when ``cells`` is a header row, else None."""
    names = [cell.strip().strip(QUOTES).strip() for cell in cells]
    if any(is_id_column(name) for name in names):
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
