"""A request-rate limiter shared by every process that calls the same Authy app.

The Authy API allows a fixed number of requests per sliding window per app (1500 a minute).
Backfills run one Dagster run per batch, each in its own process, so the limiter keeps its
state in a small SQLite file: each request takes the next free send time from it, and send times
are spaced ``(window + margin) / limit`` apart. With evenly spaced send times, any window of
``window`` seconds holds at most ``limit`` requests as long as no request is delayed by more
than ``margin`` seconds relative to the others on its way to the server.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from authy_assets.files import ensure_private_dir, make_private


class SharedRateLimiter:
    """Spaces requests evenly across processes that share ``path`` and ``scope``."""

    def __init__(
        self,
        path: Path,
        scope: str,
        *,
        limit: int,
        window_seconds: float,
        margin_seconds: float,
    ) -> None:
        if limit < 1:
            raise ValueError(f"rate limit must be at least 1 request, got {limit}")
        if window_seconds <= 0:
            raise ValueError(f"rate window must be positive, got {window_seconds} s")
        if margin_seconds < 0:
            raise ValueError(f"rate margin must not be negative, got {margin_seconds} s")
        self.scope = scope
        self.interval = (window_seconds + margin_seconds) / limit
        ensure_private_dir(Path(path).parent)
        self._connection = sqlite3.connect(path, timeout=60.0, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS send_slots (scope TEXT PRIMARY KEY, next_free REAL NOT NULL)"
        )
        make_private(Path(path))

    def close(self) -> None:
        self._connection.close()

    def reserve(self, now: float | None = None) -> float:
        """Take the next free send time (epoch seconds) for this scope and return it."""
        now = time.time() if now is None else now
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            found = connection.execute(
                "SELECT next_free FROM send_slots WHERE scope = ?", (self.scope,)
            ).fetchone()
            slot = now if found is None else max(now, found[0])
            connection.execute(
                "INSERT INTO send_slots (scope, next_free) VALUES (?, ?)"
                " ON CONFLICT (scope) DO UPDATE SET next_free = excluded.next_free",
                (self.scope, slot + self.interval),
            )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return slot

    def pause_until(self, until: float) -> None:
        """Hold back every process's next request until ``until`` (epoch seconds)."""
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(
                "INSERT INTO send_slots (scope, next_free) VALUES (?, ?)"
                " ON CONFLICT (scope) DO UPDATE SET next_free = max(next_free, excluded.next_free)",
                (self.scope, until),
            )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    async def wait_for_slot(self) -> None:
        """Sleep until this caller's reserved send time."""
        delay = self.reserve() - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
