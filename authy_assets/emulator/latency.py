"""Response delays of the emulator.

The realistic shape is a guess at a busy HTTPS API, not a measurement of Authy. With the
default median of 180 ms it gives:

- 97 % of responses from a lognormal around the median with sigma 0.3, which puts about
  90 % of all responses between 100 and 300 ms;
- 3 % of responses from a log-uniform tail between 300 ms and 2.0 s;
- no response slower than 2.0 s.

A different median scales every bound by median / 180 ms.
"""

from __future__ import annotations

import math
import random

DEFAULT_MEDIAN_SECONDS = 0.180
CORE_SIGMA = 0.3
TAIL_SHARE = 0.03
TAIL_LOW_FACTOR = 0.300 / 0.180
CAP_FACTOR = 2.0 / 0.180


class LatencySampler:
    """Seeded source of response delays in seconds. ``median_seconds=None`` means no delay."""

    def __init__(self, median_seconds: float | None, seed: int) -> None:
        self._median = median_seconds
        self._rng = random.Random(f"authy-emulator-latency:{seed}")

    def sample(self) -> float:
        median = self._median
        if median is None:
            return 0.0
        rng = self._rng
        if rng.random() < TAIL_SHARE:
            factor = math.exp(rng.uniform(math.log(TAIL_LOW_FACTOR), math.log(CAP_FACTOR)))
        else:
            factor = math.exp(rng.gauss(0.0, CORE_SIGMA))
        return median * min(factor, CAP_FACTOR)


def median_seconds(latency: str, latency_median_ms: float | None) -> float | None:
    """Return the median delay for the config values ``latency`` and ``latency_median_ms``."""
    if latency == "none":
        return None
    if latency_median_ms is not None:
        return latency_median_ms / 1000.0
    return DEFAULT_MEDIAN_SECONDS
