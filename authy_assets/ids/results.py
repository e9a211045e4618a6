"""Result of reading an id list: the distinct ids, the rejected lines and the read error.

IdCollector is the accumulator that the text and Parquet readers share, and write_rejects
stores the rejected lines as CSV.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from authy_assets.files import ensure_private_dir


MAX_STORED_REJECTS = 10_000
RAW_TEXT_LIMIT = 80


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

    def __init__(self, rejects_writer: csv.Writer | None = None) -> None:
        self.order = array("q")
        self.seen: set[int] = set()
        self.rejects: list[RejectedLine] = []
        self.rejected_count = 0
        self.duplicates = 0
        # Receives every reject, past MAX_STORED_REJECTS too, with raw text cut the same way.
        self.rejects_writer = rejects_writer

    def accept(self, value: int) -> None:
        if value in self.seen:
            self.duplicates += 1
        else:
            self.seen.add(value)
            self.order.append(value)

    def reject(self, line_number: int, raw: str, reason: str) -> None:
        self.rejected_count += 1
        if len(raw) > RAW_TEXT_LIMIT:
            raw = raw[: RAW_TEXT_LIMIT - 1] + "…"
        if self.rejects_writer is not None:
            self.rejects_writer.writerow([line_number, raw, reason])
        if len(self.rejects) < MAX_STORED_REJECTS:
            self.rejects.append(RejectedLine(line_number, raw, reason))


def write_rejects(rejects: Iterable[RejectedLine], path: Path) -> None:
    """Write ``rejects`` as CSV (line_number, raw, reason), replacing ``path`` atomically.

    Only the rejects passed in are written, which for an IdList are at most
    MAX_STORED_REJECTS; ``read_user_ids(..., rejects_path=...)`` writes all of them.
    """
    with rejects_file(path) as writer:
        for reject in rejects:
            writer.writerow([reject.line_number, reject.raw, reject.reason])


@contextlib.contextmanager
def rejects_file(path: Path) -> Iterator[csv.Writer]:
    """Yield a CSV writer whose rows replace ``path`` atomically when the block succeeds.

    The header row is written already. On an exception the old file stays as it was.
    """
    path = Path(path)
    ensure_private_dir(path.parent)
    # mkstemp creates the file with mode 0o600, which is never wider than file_mode().
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["line_number", "raw", "reason"])
            yield writer
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
