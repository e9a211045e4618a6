"""SQLite settings shared by the ledger, the rate limiter and the batch assignments."""

from __future__ import annotations

import sqlite3
import time

# How long a connection waits for another process's lock before it fails.
BUSY_TIMEOUT_SECONDS = 60.0


def use_wal(connection: sqlite3.Connection, *, timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
    """Switch ``connection``'s database to write-ahead logging, waiting out other processes.

    Changing the journal mode needs an exclusive lock, and SQLite returns SQLITE_BUSY at once
    for it instead of calling the busy handler, so two processes that open a new database at
    the same moment would fail without this retry loop.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
