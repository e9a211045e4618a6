"""Rate limit per API key, monthly quota per user, and the peak request count per window.

All three take the current time as an argument in epoch seconds, so the caller decides
which clock drives them. None of them is thread-safe: the emulator calls them from its
single event loop.
"""

from __future__ import annotations

import time
from collections import deque


class SlidingWindowLimiter:
    """Sliding-log rate limit: at most ``limit`` accepted requests in any ``window_seconds``.

    Only accepted requests enter the log, so a client that keeps sending while limited gets
    through again as soon as its oldest accepted request leaves the window.
    """

    def __init__(self, limit: int, window_seconds: float) -> None:
        self._limit = limit
        self._window = window_seconds
        self._accepted: deque[float] = deque()

    def try_acquire(self, now: float) -> bool:
        """Record a request at ``now`` and return whether the limit lets it through."""
        accepted = self._accepted
        while accepted and now - accepted[0] >= self._window:
            accepted.popleft()
        if len(accepted) >= self._limit:
            return False
        accepted.append(now)
        return True


class WindowPeakCounter:
    """Maximum number of arrivals inside any one window of ``window_seconds``.

    Each window that ends at an arrival is checked when that arrival is recorded. Any window
    with the maximum count can slide forward until it ends at an arrival, so checking those
    windows finds the maximum.
    """

    def __init__(self, window_seconds: float) -> None:
        self._window = window_seconds
        self._arrivals: deque[float] = deque()
        self.peak = 0

    def record(self, now: float) -> None:
        arrivals = self._arrivals
        arrivals.append(now)
        while now - arrivals[0] >= self._window:
            arrivals.popleft()
        if len(arrivals) > self.peak:
            self.peak = len(arrivals)

    def reset(self) -> None:
        self._arrivals.clear()
        self.peak = 0


class MonthlyQuota:
    """Requests per user in the current calendar month in UTC.

    Each user keeps only the counter of the month of its latest request, so memory grows with
    the number of distinct users and not with time.
    """

    def __init__(self, quota: int) -> None:
        self._quota = quota
        self._counts: dict[int, tuple[int, int]] = {}

    def record(self, user_id: int, now: float) -> bool:
        """Count a request for ``user_id`` at ``now`` and return whether it is within the quota.

        Rejected requests count too, so every request after the quota is rejected until the
        month changes.
        """
        month = month_index(now)
        previous = self._counts.get(user_id)
        count = previous[1] + 1 if previous is not None and previous[0] == month else 1
        self._counts[user_id] = (month, count)
        return count <= self._quota

    def used(self, user_id: int, now: float) -> int:
        """Return how many requests ``user_id`` made in the calendar month of ``now``."""
        previous = self._counts.get(user_id)
        if previous is None or previous[0] != month_index(now):
            return 0
        return previous[1]


def month_index(epoch_seconds: float) -> int:
    """Return the UTC calendar month of a timestamp as ``year * 12 + month - 1``."""
    moment = time.gmtime(epoch_seconds)
    return moment.tm_year * 12 + moment.tm_mon - 1
