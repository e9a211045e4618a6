"""Entry point for reading an id list, which picks the text or Parquet reader for the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from authy_assets.ids.parquet import read_parquet
from authy_assets.ids.results import IdCollector, IdList, IdListError, rejects_file
from authy_assets.ids.text import read_text


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
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
)
# A NUL byte this close to the start means a binary file. Looking for it before decoding keeps
# a UTF-8 error on an earlier line from hiding that the file is binary.
_BINARY_SNIFF_BYTES = 4096
_FOREIGN_SUFFIXES = {
    ".xlsx": "an Excel workbook",
    ".xls": "an Excel workbook",
    ".json": "JSON",
    ".zip": "a zip archive",
    ".gz": "a gzip archive",
}


def read_user_ids(path: Path, rejects_path: Path | None = None) -> IdList:
    """Read the distinct user ids of a CSV, plain-text or Parquet id list, in first-seen order.

    With ``rejects_path``, every rejected line is also written there as CSV, which replaces the
    file atomically once the whole list was read. Raises IdListError when the file is missing,
    empty, binary, not UTF-8, of an unsupported format, or contains no id and no rejected line
    (for example only a header).
    """
    path = Path(path)
    head = _read_head(path)
    if rejects_path is None:
        return _read(path, head, IdCollector())
    with rejects_file(rejects_path) as writer:
        return _read(path, head, IdCollector(writer))


def _read(path: Path, head: bytes, collector: IdCollector) -> IdList:
    if path.suffix.lower() == ".parquet" or head.startswith(b"PAR1"):
        file_format = "parquet"
        lines_read = read_parquet(path, collector)
    else:
        _check_not_foreign(path, head)
        _check_not_binary(path, head)
        with open(path, "rb") as handle:
            file_format, lines_read = read_text(path, handle, collector)

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
            head = handle.read(_BINARY_SNIFF_BYTES)
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


def _check_not_binary(path: Path, head: bytes) -> None:
    nul = head.find(b"\x00")
    if nul >= 0:
        line = head.count(b"\n", 0, nul) + 1
        raise IdListError(
            f"User id list {path} contains a NUL byte at byte offset {nul} (line {line}), so it"
            " looks like a binary file; pass a CSV, plain-text or Parquet file."
        )
