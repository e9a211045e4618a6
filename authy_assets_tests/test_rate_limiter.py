"""The shared rate limiter's spacing, pause and slow-down, across two handles on one file."""

from __future__ import annotations

import pytest

from authy_assets.client.limiter import MAX_SLOW_DOWN, SLOW_DOWN_STEP, SharedRateLimiter


def _limiter(tmp_path, scope: str = "app-1") -> SharedRateLimiter:
    return SharedRateLimiter(
        tmp_path / "limiter.sqlite3", scope, limit=10, window_seconds=9.0, margin_seconds=1.0
    )


def test_slots_are_evenly_spaced_across_handles(tmp_path):
    first, second = _limiter(tmp_path), _limiter(tmp_path)

    slots = [handle.reserve(now=100.0) for handle in (first, second, first, second)]

    assert slots == pytest.approx([100.0, 101.0, 102.0, 103.0])


def test_scopes_do_not_share_slots(tmp_path):
    first, other = _limiter(tmp_path, "app-1"), _limiter(tmp_path, "app-2")

    assert first.reserve(now=100.0) == other.reserve(now=100.0) == 100.0


def test_pause_delays_every_handle(tmp_path):
    first, second = _limiter(tmp_path), _limiter(tmp_path)
    first.reserve(now=100.0)

    second.pause_until(150.0)

    assert first.reserve(now=100.0) == 150.0


def test_slow_down_stretches_spacing_for_all(tmp_path):
    first, second = _limiter(tmp_path), _limiter(tmp_path)
    first.reserve(now=100.0)

    second.slow_down()
    first.reserve(now=100.0)
    third_slot = first.reserve(now=100.0)

    assert third_slot == pytest.approx(101.0 + SLOW_DOWN_STEP)


def test_slow_down_is_capped_and_recovers(tmp_path):
    limiter = _limiter(tmp_path)
    for _ in range(50):
        limiter.slow_down()
    assert limiter.slow_down_factor == MAX_SLOW_DOWN

    for _ in range(1000):
        limiter.speed_up()

    assert limiter.slow_down_factor == 1.0
    start = limiter.reserve(now=1000.0)
    assert limiter.reserve(now=1000.0) - start == pytest.approx(1.0)


def test_fast_rates_reserve_blocks_of_slots(tmp_path):
    fast = SharedRateLimiter(
        tmp_path / "limiter.sqlite3", "app-1", limit=6000, window_seconds=60.0,
        margin_seconds=0.0,
    )
    other = SharedRateLimiter(
        tmp_path / "limiter.sqlite3", "app-1", limit=6000, window_seconds=60.0,
        margin_seconds=0.0,
    )

    block = [fast.reserve(now=100.0) for _ in range(2)]
    after_block = other.reserve(now=100.0)

    assert block == pytest.approx([100.0, 100.01])
    assert after_block == pytest.approx(100.02)
