"""Reader of the tables in authy_assets/docs/export-schema.md, for the contract and reader tests."""

from __future__ import annotations

import re
from pathlib import Path

import authy_assets

SCHEMA_DOC = Path(authy_assets.__file__).parent / "docs" / "export-schema.md"
EXPORT_COLUMNS_MARKER = "<!-- export-columns"
VERIFY_READY_COLUMNS_MARKER = "<!-- verify-ready-columns"
READER_TYPES_MARKER = "<!-- reader-types"
_VERSION_PATTERN = re.compile(r"^\*\*Schema version:\*\* `([^`]+)`$", re.MULTILINE)
_CODE_SPAN = re.compile(r"`([^`]*)`")


def read_schema_doc() -> str:
    return SCHEMA_DOC.read_text(encoding="utf-8")


def documented_version(text: str) -> str:
    """Return the version on the document's "**Schema version:** `N`" line."""
    match = _VERSION_PATTERN.search(text)
    if match is None:
        raise AssertionError(f"{SCHEMA_DOC} has no line '**Schema version:** `N`'")
    return match.group(1)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def markdown_table(text: str, marker: str) -> list[dict[str, str]]:
    """Return the rows of the Markdown table right after the line starting with ``marker``.

    Each row maps the header's cells to the row's cells, as written.
    """
    lines = text.splitlines()
    starts = [index for index, line in enumerate(lines) if line.startswith(marker)]
    if len(starts) != 1:
        raise AssertionError(f"{SCHEMA_DOC} must contain one line starting with {marker!r}")
    table_lines = []
    for line in lines[starts[0] + 1 :]:
        if not line.startswith("|"):
            break
        table_lines.append(line)
    header = _cells(table_lines[0])
    rows = []
    for line in table_lines[2:]:
        cells = _cells(line)
        if len(cells) != len(header):
            raise AssertionError(f"{SCHEMA_DOC}: row {line!r} has {len(cells)} cells, expected"
                                 f" {len(header)}")
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def code_spans(cell: str) -> list[str]:
    """Return the texts in backticks of a table cell, in order."""
    return _CODE_SPAN.findall(cell)
