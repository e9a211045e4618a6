"""SQLite ledger of every request sent to the Authy API and the response each one got.

A request is inserted before it is sent, so the per-user monthly quota counts requests whose
response never arrived (a killed process, a dropped connection). The response is written into
the same row the moment it arrives, so a crash loses nothing already fetched. Every process that
fetches for the same Authy app shares the file. Writes take SQLite's write lock
(``BEGIN IMMEDIATE``), so two runs can never both take a user's last request of the month.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from authy_assets.files import create_private_database
from authy_assets.sqlite import use_wal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    request_id   INTEGER PRIMARY KEY,
    api_scope    TEXT    NOT NULL,
    authy_id     INTEGER NOT NULL,
    month        TEXT    NOT NULL,
    attempt      INTEGER NOT NULL,
    batch_key    TEXT,
    run_id       TEXT,
    requested_at REAL    NOT NULL,
    received_at  REAL,
    outcome      TEXT,
    http_status  INTEGER,
    error_code   TEXT,
    status       TEXT,
    content_type TEXT,
    body         TEXT,
    duration_ms  REAL,
    counted      INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS requests_by_user ON requests (api_scope, month, authy_id);
CREATE TABLE IF NOT EXISTS key_rejections (
    api_scope   TEXT NOT NULL,
    base_url    TEXT NOT NULL,
    rejected_at REAL NOT NULL,
    PRIMARY KEY (api_scope, base_url)
);
"""

# SQLite limits the number of host parameters in one statement; stay well below it.
_CHUNK = 900


def month_of(epoch_seconds: float) -> str:
    """Return the calendar month in UTC, as ``YYYY-MM``, that the monthly quota counts in."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m")


@dataclass(frozen=True)
class LedgerRow:
    """One request as the ledger stores it. Response fields are None until the response arrives."""

    request_id: int
    authy_id: int
    attempt: int
    batch_key: str | None
    run_id: str | None
    requested_at: float
    received_at: float | None
    outcome: str | None
    http_status: int | None
    error_code: str | None
    status: str | None
    content_type: str | None
    body: str | None
    duration_ms: float | None
    counted: bool


class RequestLedger:
    """Per-user request counts and stored responses for one Authy app (``api_scope``)."""

    def __init__(self, path: Path, api_scope: str) -> None:
        self.path = Path(path)
        self.api_scope = api_scope
        # SQLite gives the -wal and -shm files, which hold the stored responses too, the mode
        # of the database file that this creates first.
        create_private_database(self.path)
        self._connection = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        use_wal(self._connection)
        # NORMAL in WAL mode survives a killed process; only a power loss can drop the
        # newest commits.
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute("PRAGMA busy_timeout=60000")
        self._connection.executescript(_SCHEMA)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> RequestLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _write_transaction(self) -> Iterator[sqlite3.Connection]:
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            yield self._connection
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")

    def reserve(
        self,
        authy_id: int,
        *,
        month: str,
        quota: int,
        batch_key: str | None,
        run_id: str | None,
        requested_at: float | None = None,
    ) -> tuple[int, int] | None:
        """Record a request that is about to be sent, if the user's monthly quota allows it.

        Returns ``(request_id, attempt)``, where attempt counts the user's requests this month,
        or None when the user has already been sent ``quota`` requests this month.
        """
        with self._write_transaction() as connection:
            (spent,) = connection.execute(
                "SELECT count(*) FROM requests"
                " WHERE api_scope = ? AND month = ? AND authy_id = ? AND counted = 1",
                (self.api_scope, month, authy_id),
            ).fetchone()
            if spent >= quota:
                return None
            cursor = connection.execute(
                "INSERT INTO requests (api_scope, authy_id, month, attempt, batch_key, run_id,"
                " requested_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self.api_scope,
                    authy_id,
                    month,
                    spent + 1,
                    batch_key,
                    run_id,
                    time.time() if requested_at is None else requested_at,
                ),
            )
            return int(cursor.lastrowid), spent + 1

    def record_response(
        self,
        request_id: int,
        *,
        outcome: str,
        status: str,
        http_status: int | None = None,
        error_code: str | None = None,
        content_type: str | None = None,
        body: str | None = None,
        duration_ms: float | None = None,
        counted: bool = True,
        received_at: float | None = None,
    ) -> None:
        """Store the response to a reserved request, or the transport failure that replaced it."""
        with self._write_transaction() as connection:
            connection.execute(
                "UPDATE requests SET received_at = ?, outcome = ?, status = ?, http_status = ?,"
                " error_code = ?, content_type = ?, body = ?, duration_ms = ?, counted = ?"
                " WHERE request_id = ?",
                (
                    time.time() if received_at is None else received_at,
                    outcome,
                    status,
                    http_status,
                    error_code,
                    content_type,
                    body,
                    duration_ms,
                    1 if counted else 0,
                    request_id,
                ),
            )

    def counted_by_runs(
        self, authy_ids: Iterable[int], run_ids: Sequence[str], *, month: str
    ) -> dict[int, int]:
        """Return how many counted requests each of these users got this month from these runs."""
        counts: dict[int, int] = {}
        if not run_ids:
            return counts
        run_marks = ",".join("?" * len(run_ids))
        for chunk in _chunks(list(authy_ids)):
            marks = ",".join("?" * len(chunk))
            rows = self._connection.execute(
                "SELECT authy_id, COUNT(*) FROM requests"
                f" WHERE api_scope = ? AND month = ? AND counted = 1 AND run_id IN ({run_marks})"
                f" AND authy_id IN ({marks}) GROUP BY authy_id",
                (self.api_scope, month, *run_ids, *chunk),
            )
            counts.update((authy_id, count) for authy_id, count in rows)
        return counts

    def record_key_rejection(self, base_url: str, rejected_at: float) -> None:
        """Store that the API at ``base_url`` rejected this app's key (HTTP 401)."""
        with self._write_transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO key_rejections (api_scope, base_url, rejected_at)"
                " VALUES (?, ?, ?)",
                (self.api_scope, base_url, rejected_at),
            )

    def key_rejected_at(self, base_url: str) -> float | None:
        """Return when the API at ``base_url`` last rejected this app's key, or None."""
        row = self._connection.execute(
            "SELECT rejected_at FROM key_rejections WHERE api_scope = ? AND base_url = ?",
            (self.api_scope, base_url),
        ).fetchone()
        return None if row is None else float(row[0])

    def rows_for(self, authy_ids: Iterable[int], *, month: str) -> list[LedgerRow]:
        """Return every request of the month for these users, oldest first per user."""
        rows: list[LedgerRow] = []
        for chunk in _chunks(list(authy_ids)):
            marks = ",".join("?" * len(chunk))
            cursor = self._connection.execute(
                "SELECT request_id, authy_id, attempt, batch_key, run_id, requested_at,"
                " received_at, outcome, http_status, error_code, status, content_type, body,"
                " duration_ms, counted FROM requests"
                f" WHERE api_scope = ? AND month = ? AND authy_id IN ({marks})"
                " ORDER BY authy_id, request_id",
                (self.api_scope, month, *chunk),
            )
            rows.extend(_to_row(values) for values in cursor)
        return rows

    def spent(self, authy_ids: Iterable[int], *, month: str) -> dict[int, int]:
        """Return how many counted requests each of these users has been sent this month."""
        counts: dict[int, int] = {}
        for chunk in _chunks(list(authy_ids)):
            marks = ",".join("?" * len(chunk))
            cursor = self._connection.execute(
                "SELECT authy_id, count(*) FROM requests"
                f" WHERE api_scope = ? AND month = ? AND counted = 1 AND authy_id IN ({marks})"
                " GROUP BY authy_id",
                (self.api_scope, month, *chunk),
            )
            counts.update((int(authy_id), int(count)) for authy_id, count in cursor)
        return counts

    def latest_statuses(self, authy_ids: Iterable[int], *, month: str) -> dict[int, str | None]:
        """Return the status of each user's newest request this month (None: no response yet)."""
        latest: dict[int, str | None] = {}
        for chunk in _chunks(list(authy_ids)):
            marks = ",".join("?" * len(chunk))
            cursor = self._connection.execute(
                "SELECT authy_id, status FROM requests WHERE request_id IN ("
                " SELECT max(request_id) FROM requests"
                f" WHERE api_scope = ? AND month = ? AND authy_id IN ({marks})"
                " GROUP BY authy_id)",
                (self.api_scope, month, *chunk),
            )
            latest.update((int(authy_id), status) for authy_id, status in cursor)
        return latest


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _to_row(values: tuple) -> LedgerRow:
    row = LedgerRow(*values)
    return LedgerRow(**{**row.__dict__, "counted": bool(row.counted)})
