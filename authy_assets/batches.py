"""Stable assignment of Authy users to batches, stored in SQLite.

Each batch is one Dagster dynamic partition, so a batch's membership never changes once the
batch exists. Ids that are already assigned keep their batch, and new ids only ever fill new
batches, in the order the caller gives them (the id list's first-seen order), ``batch_size`` at
a time. The last batch of an ``assign`` call may stay partial, and later calls never add to it.
A changed ``batch_size`` applies only to batches created after the change.

Every ``assign`` runs in one ``BEGIN IMMEDIATE`` transaction, so processes that assign at the
same time run one after the other and never share or split a batch.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from authy_assets.files import create_private_database
from authy_assets.sqlite import use_wal

INT64_MAX = 2**63 - 1
BATCH_KEY_PREFIX = "batch-"
BATCH_KEY_DIGITS = 6
# Keys keep a fixed width so that they sort as text, which a seventh digit would break.
MAX_BATCHES = 10**BATCH_KEY_DIGITS - 1
# A batch is one Dagster partition, fetched in one run, and the assets of that run hold all of
# its rows in memory: its responses, then its phone rows. A million users (about 11 hours at
# 1500 requests a minute) is more than any run should take, and a larger value is a typo. The
# bound also keeps the batch arithmetic within int64.
MAX_BATCH_SIZE = 1_000_000
SCHEMA_VERSION = "1"

_BATCH_KEY_RE = re.compile(rf"{BATCH_KEY_PREFIX}(\d{{{BATCH_KEY_DIGITS}}})")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS batches (
        batch_number INTEGER PRIMARY KEY,
        batch_size INTEGER NOT NULL,
        member_count INTEGER NOT NULL,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS assignments (
        authy_id INTEGER PRIMARY KEY,
        batch_number INTEGER NOT NULL REFERENCES batches (batch_number)
    )""",
    "CREATE INDEX IF NOT EXISTS assignments_by_batch ON assignments (batch_number, authy_id)",
)


class BatchAssignmentError(ValueError):
    """An invalid batch size, id or batch key, or a database this module cannot use."""


class UnknownBatchError(LookupError):
    """A well-formed batch key with no batch in the database."""


@dataclass(frozen=True)
class AssignmentResult:
    """Outcome of one ``assign`` call: the batches it created and all batches after it."""

    new_batch_keys: list[str]
    all_batch_keys: list[str]
    new_ids: int


def batch_key(batch_number: int) -> str:
    """Return the partition key of a batch number, zero-padded so keys sort: ``batch-000001``."""
    return f"{BATCH_KEY_PREFIX}{batch_number:0{BATCH_KEY_DIGITS}d}"


def batch_number(key: str) -> int:
    """Return the batch number of a key made by ``batch_key``."""
    match = _BATCH_KEY_RE.fullmatch(key)
    if not match or int(match.group(1)) < 1:
        raise BatchAssignmentError(
            f"invalid batch key {key!r}: expected {batch_key(1)!r} up to {batch_key(MAX_BATCHES)!r}"
        )
    return int(match.group(1))


def validate_batch_size(batch_size: int) -> int:
    """Return ``batch_size`` as an int, or raise BatchAssignmentError outside 1 to MAX_BATCH_SIZE."""
    expected = f"an integer >= 1 and <= {MAX_BATCH_SIZE:,}"
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise BatchAssignmentError(f"batch_size must be {expected}, got {batch_size!r}")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise BatchAssignmentError(f"batch_size must be {expected}, got {batch_size}")
    return int(batch_size)


def as_id_array(ids: Sequence[int] | npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    """Return ``ids`` as an int64 array, after checking that each id is between 1 and int64 max."""
    values = np.asarray(ids)
    if values.ndim != 1:
        raise BatchAssignmentError(f"ids must be one-dimensional, got shape {values.shape}")
    if values.size == 0:
        return np.empty(0, dtype=np.int64)
    if values.dtype.kind == "O":
        if any(isinstance(value, bool) or not isinstance(value, int) for value in values):
            raise BatchAssignmentError("ids must be integers; found a non-integer value")
        if any(value > INT64_MAX for value in values):
            raise BatchAssignmentError(f"ids must be at most {INT64_MAX}")
        values = values.astype(np.int64)
    elif values.dtype.kind == "u":
        if values.max() > INT64_MAX:
            raise BatchAssignmentError(f"ids must be at most {INT64_MAX}, got {values.max()}")
        values = values.astype(np.int64)
    elif values.dtype.kind == "i":
        values = values.astype(np.int64, copy=False)
    else:
        raise BatchAssignmentError(f"ids must be integers, got an array of {values.dtype}")
    if values.min() < 1:
        raise BatchAssignmentError(f"ids must be >= 1, got {values.min()}")
    return values


class BatchAssignments:
    """Batches of user ids in the SQLite database at ``db_path``, created if missing."""

    def __init__(self, db_path: Path, batch_size: int, *, busy_timeout_s: float = 60.0) -> None:
        self.batch_size = validate_batch_size(batch_size)
        self.db_path = Path(db_path)
        self.busy_timeout_ms = int(busy_timeout_s * 1000)
        create_private_database(self.db_path)
        with self._connection() as connection:
            # WAL is stored in the database file, so setting it once here covers later connections.
            use_wal(connection)
            with _immediate(connection):
                for statement in _SCHEMA:
                    connection.execute(statement)
                connection.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (SCHEMA_VERSION,),
                )
                (version,) = connection.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'"
                ).fetchone()
        if version != SCHEMA_VERSION:
            raise BatchAssignmentError(
                f"{self.db_path} has batch schema version {version}, this code reads version"
                f" {SCHEMA_VERSION}; use the matching release or a new database path."
            )

    def assign(self, ids: Sequence[int] | npt.NDArray[np.integer]) -> AssignmentResult:
        """Give every id in ``ids`` that has no batch yet a place in a new batch.

        New ids fill new batches in the order given (duplicates count once). Ids already
        assigned keep their batch.
        """
        incoming = as_id_array(ids)
        _, first_seen = np.unique(incoming, return_index=True)
        incoming = incoming[np.sort(first_seen)]

        with self._connection() as connection, _immediate(connection):
            assigned = _fetch_int_column(connection, "SELECT authy_id FROM assignments")
            new_ids = incoming[~np.isin(incoming, assigned, assume_unique=True)]
            (last,) = connection.execute(
                "SELECT COALESCE(MAX(batch_number), 0) FROM batches"
            ).fetchone()
            new_batches = -(-len(new_ids) // self.batch_size)
            if last + new_batches > MAX_BATCHES:
                raise BatchAssignmentError(
                    f"{len(new_ids)} new ids need {new_batches} batches of {self.batch_size},"
                    f" past the limit of {MAX_BATCHES} batches ({last} exist); use a larger"
                    " batch_size."
                )

            numbers = last + 1 + np.arange(len(new_ids), dtype=np.int64) // self.batch_size
            counts = np.bincount(numbers - last - 1, minlength=new_batches).tolist()
            created_at = datetime.now(UTC).isoformat(timespec="seconds")
            connection.executemany(
                "INSERT INTO batches (batch_number, batch_size, member_count, created_at)"
                " VALUES (?, ?, ?, ?)",
                (
                    (last + 1 + offset, self.batch_size, count, created_at)
                    for offset, count in enumerate(counts)
                ),
            )
            connection.executemany(
                "INSERT INTO assignments (authy_id, batch_number) VALUES (?, ?)",
                zip(new_ids.tolist(), numbers.tolist(), strict=True),
            )
            all_numbers = _fetch_int_column(
                connection, "SELECT batch_number FROM batches ORDER BY batch_number"
            )

        return AssignmentResult(
            new_batch_keys=[batch_key(last + 1 + offset) for offset in range(new_batches)],
            all_batch_keys=[batch_key(number) for number in all_numbers.tolist()],
            new_ids=len(new_ids),
        )

    def members(self, key: str) -> list[int]:
        """Return the ids of one batch, sorted. Raises UnknownBatchError for a missing batch."""
        number = batch_number(key)
        with self._connection() as connection, _read(connection):
            if not connection.execute(
                "SELECT 1 FROM batches WHERE batch_number = ?", (number,)
            ).fetchone():
                raise UnknownBatchError(f"batch {key!r} does not exist in {self.db_path}")
            rows = connection.execute(
                "SELECT authy_id FROM assignments WHERE batch_number = ? ORDER BY authy_id",
                (number,),
            ).fetchall()
        return [authy_id for (authy_id,) in rows]

    def batch_keys(self) -> list[str]:
        """Return the keys of all batches in creation order, which is also their sort order."""
        with self._connection() as connection:
            numbers = _fetch_int_column(
                connection, "SELECT batch_number FROM batches ORDER BY batch_number"
            )
        return [batch_key(number) for number in numbers.tolist()]

    def assignment_frame(self, ids: Sequence[int] | npt.NDArray[np.integer]) -> pd.DataFrame:
        """Return one row per given id, in the given order: ``authy_id`` (int64), ``batch_key``.

        ``batch_key`` has pandas' ``string`` dtype and is <NA> for an id that has no batch.
        """
        requested = as_id_array(ids)
        with self._connection() as connection:
            rows = np.fromiter(
                connection.execute(
                    "SELECT authy_id, batch_number FROM assignments ORDER BY authy_id"
                ),
                dtype=[("authy_id", np.int64), ("batch_number", np.int64)],
            )
        assigned = rows["authy_id"]

        positions = np.searchsorted(assigned, requested)
        in_range = positions < len(assigned)
        found = np.zeros(len(requested), dtype=bool)
        found[in_range] = assigned[positions[in_range]] == requested[in_range]
        requested_numbers = np.zeros(len(requested), dtype=np.int64)
        requested_numbers[found] = rows["batch_number"][positions[found]]

        # Batch number 0 is never used, so it maps to <NA> for ids without a batch.
        distinct = np.unique(requested_numbers[found])
        keys = pd.Series(
            [batch_key(number) for number in distinct.tolist()], index=distinct, dtype="string"
        )
        return pd.DataFrame(
            {
                "authy_id": pd.Series(requested, dtype="int64"),
                "batch_key": keys.reindex(requested_numbers).array,
            }
        )

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(
            self.db_path, timeout=self.busy_timeout_ms / 1000, isolation_level=None
        )
        try:
            connection.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            yield connection
        finally:
            connection.close()


@contextmanager
def _immediate(connection: sqlite3.Connection) -> Iterator[None]:
    """Run the block in a write transaction that takes the database's write lock at the start."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


@contextmanager
def _read(connection: sqlite3.Connection) -> Iterator[None]:
    """Run the block's queries on one snapshot of the database."""
    connection.execute("BEGIN")
    try:
        yield
    finally:
        connection.execute("COMMIT")


def _fetch_int_column(connection: sqlite3.Connection, query: str) -> npt.NDArray[np.int64]:
    cursor = connection.execute(query)
    return np.fromiter((row[0] for row in cursor), dtype=np.int64)
