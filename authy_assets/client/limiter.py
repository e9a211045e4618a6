"""A request-rate limiter shared by every process that calls the same Authy app.

The Authy API allows a fixed number of requests per sliding window per app (1500 a minute).
Backfills run one Dagster run per batch, each in its own process, so the limiter keeps its
state in a small SQLite file: each request takes the next free send time from it, and send times
are spaced ``(window + margin) / limit`` apart. With evenly spaced send times, any window of
``window`` seconds contains at most ``limit`` requests as long as no request is delayed by more
than ``margin`` seconds relative to the others on its way to the server.

When the API still returns 429, its real limit is lower than the configured one (or another
client uses the same app), so the spacing is stretched by a shared slow-down factor, which
shrinks again with each final response.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from authy_assets.files import create_private_file, ensure_private_dir
from authy_assets.sqlite import use_wal

# Each 429 stretches the spacing by this factor, up to MAX_SLOW_DOWN times the configured one.
SLOW_DOWN_STEP = 1.5
MAX_SLOW_DOWN = 20.0
# Each final response shrinks the stretch by this factor, back to 1.
SPEED_UP_STEP = 0.98
# At high rates a process takes the send times of this many seconds in one transaction, so
# the SQLite write lock is not taken once per request. At 1500 a minute that is one slot.
BLOCK_SECONDS = 0.02
MAX_BLOCK_SLOTS = 32


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
        self.slow_down_factor = 1.0
        self._reserved: collections.deque[float] = collections.deque()
        path = Path(path)
        ensure_private_dir(path.parent)
        create_private_file(path)
        self._connection = sqlite3.connect(path, timeout=60.0, isolation_level=None)
        use_wal(self._connection)
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS send_schedule ("
            " scope TEXT PRIMARY KEY, next_free REAL NOT NULL, slow_down REAL NOT NULL)"
        )

    def close(self) -> None:
        self._connection.close()

    @contextmanager
    def _schedule(self) -> Iterator[tuple[float, float]]:
        """Lock the schedule and yield ``(next_free, slow_down)`` of this scope."""
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            found = connection.execute(
                "SELECT next_free, slow_down FROM send_schedule WHERE scope = ?", (self.scope,)
            ).fetchone()
            yield found if found is not None else (0.0, 1.0)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def _store(self, next_free: float, slow_down: float) -> None:
        self._connection.execute(
            "INSERT INTO send_schedule (scope, next_free, slow_down) VALUES (?, ?, ?)"
            " ON CONFLICT (scope) DO UPDATE SET next_free = excluded.next_free,"
            " slow_down = excluded.slow_down",
            (self.scope, next_free, slow_down),
        )

    def reserve(self, now: float | None = None) -> float:
        """Take the next free send time (epoch seconds) for this scope and return it."""
        if self._reserved:
            return self._reserved.popleft()
        now = time.time() if now is None else now
        with self._schedule() as (next_free, slow_down):
            spacing = self.interval * slow_down
            count = max(1, min(MAX_BLOCK_SLOTS, int(BLOCK_SECONDS / spacing)))
            first = max(now, next_free)
            self._store(first + count * spacing, slow_down)
        self.slow_down_factor = slow_down
        self._reserved.extend(first + index * spacing for index in range(1, count))
        return first

    def pause_until(self, until: float) -> None:
        """Hold back every process's next request until ``until`` (epoch seconds)."""
        self._reserved.clear()
        with self._schedule() as (next_free, slow_down):
            self._store(max(next_free, until), slow_down)

    def slow_down(self) -> None:
        """Stretch the spacing of every process after a 429."""
        with self._schedule() as (next_free, slow_down):
            self.slow_down_factor = min(MAX_SLOW_DOWN, slow_down * SLOW_DOWN_STEP)
            self._store(next_free, self.slow_down_factor)

    def speed_up(self) -> None:
        """Shrink the stretch after a final response; free while no stretch is in force."""
        if self.slow_down_factor <= 1.0:
            return
        with self._schedule() as (next_free, slow_down):
            self.slow_down_factor = max(1.0, slow_down * SPEED_UP_STEP)
            self._store(next_free, self.slow_down_factor)

    async def wait_for_slot(self) -> None:
        """Sleep until this caller's reserved send time."""
        delay = self.reserve() - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
