"""Tests of the Authy export API emulator over a real loopback socket with httpx."""

from __future__ import annotations

import asyncio
import calendar
import dataclasses
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import phonenumbers
import pytest

from authy_assets.emulator import (
    EmulatorConfig,
    PopulationFileError,
    RunningEmulator,
    generate_user,
    parse_latency_option,
    start_emulator,
)
from authy_assets.emulator.config import CLI_OPTIONS
from authy_assets.emulator.latency import LatencySampler
from authy_assets.emulator.limits import (
    MonthlyQuota,
    SlidingWindowLimiter,
    WindowPeakCounter,
    month_index,
)

API_KEY = "test-api-key-5f1c"
REPO_ROOT = Path(__file__).resolve().parents[1]
USER_ONE_BODY = {
    "phone_number": "444-555-6666",
    "country_code": "1",
    "e164": "+14445556666",
    "updated_at": "2021-12-09T15:41:20Z",
}


def path_for(authy_id: object) -> str:
    return f"/protected/json/users/{authy_id}/phone_number"


def error_body(code: str, message: str) -> dict[str, Any]:
    return {
        "message": message,
        "success": False,
        "errors": {"message": message},
        "error_code": code,
    }


class FakeClock:
    """Settable clock in epoch seconds for the rate window and the calendar month."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def utc_epoch(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> float:
    return float(calendar.timegm((year, month, day, hour, minute, second)))


@contextmanager
def emulator_with(**settings: Any) -> Iterator[RunningEmulator]:
    settings.setdefault("latency", "none")
    with start_emulator(EmulatorConfig(api_key=API_KEY, **settings)) as emulator:
        yield emulator


@contextmanager
def client_for(
    emulator: RunningEmulator, timeout: float = 5.0, api_key: str | None = API_KEY
) -> Iterator[httpx.Client]:
    headers = {} if api_key is None else {"X-Authy-API-Key": api_key}
    with httpx.Client(
        base_url=emulator.url, headers=headers, timeout=timeout, trust_env=False
    ) as client:
        yield client


def first_disabled_user(seed: int = 7, share: float = 0.05, size: int = 2200) -> int:
    for authy_id in range(2, size + 1):
        if generate_user(seed, authy_id, share).export_disabled:
            return authy_id
    raise AssertionError("no export-disabled user in the population")


# --- API key -----------------------------------------------------------------------------


def test_missing_and_wrong_key_rejected() -> None:
    with emulator_with() as emulator:
        with client_for(emulator, api_key=None) as client:
            missing = client.get(path_for(1))
        with client_for(emulator, api_key="wrong-key") as client:
            wrong = client.get(path_for(1))
        stats = emulator.stats()

    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.json() == error_body("60001", "Invalid API key")
    assert stats["requests_rejected_key"] == 2
    assert stats["requests_total"] == 0
    assert stats["requests_per_user"] == {}
    assert stats["requests_per_status"] == {"401": 2}


def test_rejected_key_spends_no_limits() -> None:
    with emulator_with(rate_limit=3) as emulator:
        with client_for(emulator, api_key="wrong-key") as client:
            rejected = [client.get(path_for(2)).status_code for _ in range(5)]
        with client_for(emulator) as client:
            accepted = [client.get(path_for(2)).status_code for _ in range(3)]
        stats = emulator.stats()

    assert rejected == [401] * 5
    assert accepted == [200] * 3
    assert stats["max_requests_in_window"] == 3


# --- responses ---------------------------------------------------------------------------


def test_user_one_documented_body() -> None:
    with emulator_with() as emulator, client_for(emulator) as client:
        response = client.get(path_for(1))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == USER_ONE_BODY
    assert list(response.json()) == ["phone_number", "country_code", "e164", "updated_at"]


def test_unknown_user_not_found() -> None:
    with emulator_with(population_size=50) as emulator, client_for(emulator) as client:
        response = client.get(path_for(51))

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body == error_body("60026", "User not found.")
    assert isinstance(body["error_code"], str)


def test_not_found_status_setting() -> None:
    with emulator_with(population_size=50, not_found_status=410) as emulator:
        with client_for(emulator) as client:
            response = client.get(path_for(51))

    assert response.status_code == 410
    assert response.json()["error_code"] == "60026"


def test_export_disabled_user() -> None:
    disabled_id = first_disabled_user()
    with emulator_with() as emulator, client_for(emulator) as client:
        response = client.get(path_for(disabled_id))

    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "60154"
    assert body["success"] is False
    assert body["errors"] == {"message": body["message"]}


def test_export_disabled_status_setting() -> None:
    disabled_id = first_disabled_user()
    with emulator_with(export_disabled_status=403) as emulator, client_for(emulator) as client:
        response = client.get(path_for(disabled_id))

    assert response.status_code == 403
    assert response.json()["error_code"] == "60154"


INVALID_IDS = ["0", "000", "abc", "-1", "1.5", "1e3", "\u0661\u0662", "99999999999999999999", "%20"]


@pytest.mark.parametrize("authy_id", INVALID_IDS)
def test_invalid_authy_id(authy_id: str) -> None:
    with emulator_with() as emulator, client_for(emulator) as client:
        response = client.get(path_for(authy_id))

    assert response.status_code == 400
    assert response.json()["error_code"] == "60004"


def test_generated_users_over_http() -> None:
    def fetch_bodies(seed: int) -> list[dict[str, Any]]:
        with emulator_with(export_disabled_share=0.0, seed=seed) as emulator:
            with client_for(emulator) as client:
                return [client.get(path_for(authy_id)).json() for authy_id in range(2, 60)]

    bodies = fetch_bodies(7)
    again = fetch_bodies(7)
    other_seed = fetch_bodies(8)

    assert bodies == again
    assert sum(a != b for a, b in zip(bodies, other_seed)) > 50
    for body in bodies:
        assert set(body) == {"phone_number", "country_code", "e164", "updated_at"}
        assert all(isinstance(value, str) for value in body.values())
        parsed = phonenumbers.parse(body["e164"])
        national = phonenumbers.national_significant_number(parsed)
        assert body["e164"] == "+" + body["country_code"] + national
        assert str(parsed.country_code) == body["country_code"]


# --- limits ------------------------------------------------------------------------------


def test_rate_limit_window() -> None:
    clock = FakeClock(utc_epoch(2024, 3, 10, 12))
    with emulator_with(rate_limit=5, rate_window_seconds=0.5, clock=clock) as emulator:
        with client_for(emulator) as client:
            first = [client.get(path_for(authy_id)) for authy_id in range(2, 8)]
            clock.now += 0.25
            still_limited = client.get(path_for(8))
            clock.now += 0.25
            after_window = client.get(path_for(9))
        stats = emulator.stats()

    assert [response.status_code for response in first] == [200] * 5 + [429]
    assert first[5].json() == error_body("60003", "Too many requests")
    assert still_limited.status_code == 429
    assert after_window.status_code == 200
    assert stats["max_requests_in_window"] == 7
    assert stats["rate_limit"] == 5
    assert stats["rate_window_seconds"] == 0.5


def test_rate_limit_real_clock() -> None:
    with emulator_with(rate_limit=5) as emulator, client_for(emulator) as client:
        statuses = [client.get(path_for(authy_id)).status_code for authy_id in range(2, 10)]

    assert statuses == [200] * 5 + [429] * 3


def test_rate_limited_status_setting() -> None:
    with emulator_with(rate_limit=1, rate_limited_status=503) as emulator:
        with client_for(emulator) as client:
            client.get(path_for(2))
            response = client.get(path_for(3))

    assert response.status_code == 503
    assert response.json()["error_code"] == "60003"


@pytest.mark.parametrize(("counts_for_user", "expected_status"), [(True, 429), (False, 200)])
def test_app_limited_counts_for_user(counts_for_user: bool, expected_status: int) -> None:
    clock = FakeClock(utc_epoch(2024, 3, 10, 12))
    settings = {
        "rate_limit": 1,
        "rate_window_seconds": 1.0,
        "app_limited_counts_for_user": counts_for_user,
    }
    with emulator_with(clock=clock, **settings) as emulator, client_for(emulator) as client:
        accepted = client.get(path_for(2))
        limited = [client.get(path_for(2)).status_code for _ in range(2)]
        clock.now += 1.0
        later = client.get(path_for(2))

    assert accepted.status_code == 200
    assert limited == [429, 429]
    assert later.status_code == expected_status


def test_monthly_quota_resets_next_month() -> None:
    clock = FakeClock(utc_epoch(2024, 1, 31, 23, 59, 59))
    with emulator_with(clock=clock) as emulator, client_for(emulator) as client:
        january = [client.get(path_for(2)) for _ in range(5)]
        other_user = client.get(path_for(3))
        clock.now = utc_epoch(2024, 2, 1)
        february = client.get(path_for(2))

    assert [response.status_code for response in january] == [200, 200, 200, 429, 429]
    assert january[3].json() == error_body("60003", "Too many requests")
    assert "retry-after" not in january[3].headers
    assert other_user.status_code == 200
    assert february.status_code == 200
    assert february.json() == january[0].json()


def test_quota_counts_failed_requests() -> None:
    with emulator_with(fault_500=1.0) as emulator, client_for(emulator) as client:
        statuses = [client.get(path_for(2)).status_code for _ in range(4)]

    assert statuses == [500, 500, 500, 429]


RETRY_AFTER_VALUES = ["5", "Wed, 21 Oct 2015 07:28:00 GMT", "0", "soon-ish ¯\\_(ツ)_/¯"]


@pytest.mark.parametrize("value", RETRY_AFTER_VALUES)
def test_retry_after_sent_verbatim(value: str) -> None:
    with emulator_with(monthly_quota=1, retry_after=value) as emulator:
        with client_for(emulator) as client:
            client.get(path_for(2))
            response = client.get(path_for(2))

    assert response.status_code == 429
    raw_headers = dict(response.headers.raw)
    assert raw_headers[b"Retry-After"].decode("utf-8") == value


# --- population file ---------------------------------------------------------------------


def test_population_file_over_http(tmp_path: Path) -> None:
    path = tmp_path / "population.jsonl"
    italian = {
        "phone_number": "02 1234 5678",
        "country_code": "39",
        "e164": "+390212345678",
        "updated_at": "2022-01-01T00:00:00Z",
    }
    html_raw = {
        "status": 503,
        "headers": {"Content-Type": "text/html", "X-Trace": "abc"},
        "body": "<h1>down</h1>",
    }
    json_as_html_raw = {
        "status": 200,
        "headers": {"Content-Type": "text/html"},
        "body": '{"phone_number": "1", "success": true}',
    }
    lines = [
        {"authy_id": 2, **italian},
        {"authy_id": 3, "exists": False},
        {"authy_id": 4, "raw": html_raw},
        {"authy_id": 5, "raw": json_as_html_raw},
        {"authy_id": 9_000_000, **italian, "export_disabled": True},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")

    settings = {"population_file": path, "population_size": 100}
    with emulator_with(**settings) as emulator, client_for(emulator) as client:
        replaced = client.get(path_for(2))
        deleted = client.get(path_for(3))
        raw_html = client.get(path_for(4))
        raw_json = client.get(path_for(5))
        beyond = client.get(path_for(9_000_000))
        generated = client.get(path_for(6))

    assert replaced.json() == italian
    assert deleted.status_code == 404
    assert raw_html.status_code == 503
    assert raw_html.headers["content-type"] == "text/html"
    assert raw_html.headers["x-trace"] == "abc"
    assert raw_html.text == "<h1>down</h1>"
    assert raw_json.status_code == 200
    assert raw_json.headers["content-type"] == "text/html"
    assert raw_json.text == '{"phone_number": "1", "success": true}'
    assert beyond.status_code == 400
    assert beyond.json()["error_code"] == "60154"
    assert generated.status_code == 200


def test_raw_replay_after_limits(tmp_path: Path) -> None:
    path = tmp_path / "population.jsonl"
    line = {"authy_id": 2, "raw": {"status": 200, "body": "ok"}}
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")

    settings = {"population_file": path, "monthly_quota": 1}
    with emulator_with(**settings) as emulator, client_for(emulator) as client:
        first = client.get(path_for(2))
        second = client.get(path_for(2))
        no_key = client.get(path_for(2), headers={"X-Authy-API-Key": "wrong"})

    assert first.text == "ok"
    assert second.status_code == 429
    assert no_key.status_code == 401


def test_population_file_bad_line_stops_start(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"authy_id": 2, "exists": false}\n{"authy_id": 3, "raw": {"status": "500"}}\n')

    with pytest.raises(PopulationFileError) as caught:
        start_emulator(EmulatorConfig(api_key=API_KEY, population_file=path))

    assert str(path) in str(caught.value)
    assert "line 2" in str(caught.value)
    assert "raw.status" in str(caught.value)


# --- faults ------------------------------------------------------------------------------


def test_fault_500() -> None:
    with emulator_with(fault_500=1.0) as emulator, client_for(emulator) as client:
        response = client.get(path_for(2))

    assert response.status_code == 500
    assert response.json() == error_body("60000", "An error occurred")


def test_fault_503_html() -> None:
    with emulator_with(fault_503_html=1.0) as emulator, client_for(emulator) as client:
        response = client.get(path_for(2))

    assert response.status_code == 503
    assert response.headers["content-type"] == "text/html"
    assert response.text.startswith("<html>")
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_fault_drop() -> None:
    with emulator_with(fault_drop=1.0) as emulator:
        with client_for(emulator) as client, pytest.raises(httpx.TransportError) as caught:
            client.get(path_for(2))
        stats = emulator.stats()

    assert isinstance(caught.value, httpx.RemoteProtocolError)
    assert stats["requests_dropped"] == 1
    assert stats["requests_per_user"] == {"2": 1}
    assert stats["requests_per_status"] == {}


def test_fault_slow() -> None:
    with emulator_with(fault_slow=1.0, slow_seconds=2.0) as emulator:
        with client_for(emulator, timeout=0.5) as client, pytest.raises(httpx.TimeoutException):
            client.get(path_for(2))
        stats = emulator.stats()

    assert stats["requests_per_user"] == {"2": 1}


def test_fault_slow_responds_eventually() -> None:
    with emulator_with(fault_slow=1.0, slow_seconds=0.2) as emulator:
        with client_for(emulator, timeout=5.0) as client:
            response = client.get(path_for(1))

    assert response.json() == USER_ONE_BODY


def test_fault_malformed_json() -> None:
    with emulator_with(fault_malformed_json=1.0) as emulator, client_for(emulator) as client:
        response = client.get(path_for(1))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text == json.dumps(USER_ONE_BODY)[: len(json.dumps(USER_ONE_BODY)) // 2]
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_fault_share_partial() -> None:
    with emulator_with(fault_500=0.5, monthly_quota=1000) as emulator:
        with client_for(emulator) as client:
            statuses = [client.get(path_for(1)).status_code for _ in range(200)]

    assert 40 < statuses.count(500) < 160
    assert statuses.count(500) + statuses.count(200) == 200


# --- per-user faults from the population file ---------------------------------------------


def write_population(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


ITALIAN_USER = {
    "phone_number": "02 1234 5678",
    "country_code": "39",
    "e164": "+390212345678",
    "updated_at": "2022-01-01T00:00:00Z",
}


def test_user_fault_every_request(tmp_path: Path) -> None:
    path = write_population(
        tmp_path / "faults.jsonl",
        [
            {"authy_id": 2, "fault": "500"},
            {"authy_id": 3, "fault": "503_html"},
            {"authy_id": 4, "fault": "malformed_json", **ITALIAN_USER},
            {"authy_id": 5, "fault": "drop"},
        ],
    )
    settings = {"population_file": path, "monthly_quota": 10}
    with emulator_with(**settings) as emulator, client_for(emulator) as client:
        internal = [client.get(path_for(2)) for _ in range(3)]
        unavailable = [client.get(path_for(3)) for _ in range(3)]
        malformed = [client.get(path_for(4)) for _ in range(3)]
        for _ in range(3):
            with pytest.raises(httpx.RemoteProtocolError):
                client.get(path_for(5))
        normal = client.get(path_for(6))
        stats = emulator.stats()

    italian_body = json.dumps(ITALIAN_USER)
    for response in internal:
        assert response.status_code == 500
        assert response.json() == error_body("60000", "An error occurred")
    for response in unavailable:
        assert response.status_code == 503
        assert response.headers["content-type"] == "text/html"
        assert response.text.startswith("<html>")
    for response in malformed:
        assert response.status_code == 200
        assert response.text == italian_body[: len(italian_body) // 2]
    assert normal.status_code == 200
    assert stats["requests_dropped"] == 3
    assert stats["requests_per_user"] == {"2": 3, "3": 3, "4": 3, "5": 3, "6": 1}


def test_user_fault_slow(tmp_path: Path) -> None:
    path = write_population(
        tmp_path / "slow.jsonl",
        [{"authy_id": 2, "fault": "slow", **ITALIAN_USER}, {"authy_id": 3, "fault": "slow"}],
    )
    settings = {"population_file": path, "slow_seconds": 2.0}
    with emulator_with(**settings) as emulator:
        with client_for(emulator, timeout=0.5) as client:
            with pytest.raises(httpx.ReadTimeout):
                client.get(path_for(2))
            fast_user = client.get(path_for(1))
    settings = {"population_file": path, "slow_seconds": 0.2}
    with emulator_with(**settings) as emulator, client_for(emulator) as client:
        replaced = client.get(path_for(2))
        generated = client.get(path_for(3))

    assert fast_user.json() == USER_ONE_BODY
    assert replaced.json() == ITALIAN_USER
    assert generated.status_code == 200
    assert generated.json() == generate_user(7, 3, 0.05).export_fields()


def test_user_fault_list_then_normal(tmp_path: Path) -> None:
    raw_429 = {
        "status": 429,
        "headers": {"Content-Type": "application/json", "Retry-After": "7"},
        "body": json.dumps(error_body("60003", "Too many requests")),
    }
    path = write_population(
        tmp_path / "list.jsonl",
        [
            {"authy_id": 2, "faults": ["500", "drop", raw_429], **ITALIAN_USER},
            {"authy_id": 3, "faults": ["503_html"], "raw": {"status": 400, "body": "no"}},
        ],
    )
    settings = {"population_file": path, "monthly_quota": 10}
    with emulator_with(**settings) as emulator, client_for(emulator) as client:
        first = client.get(path_for(2))
        emulator.reset_stats()
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(path_for(2))
        third = client.get(path_for(2))
        later = [client.get(path_for(2)) for _ in range(2)]
        raw_first = client.get(path_for(3))
        raw_later = client.get(path_for(3))

    assert first.status_code == 500
    assert third.status_code == 429
    assert third.headers["retry-after"] == "7"
    assert third.json()["error_code"] == "60003"
    for response in later:
        assert response.status_code == 200
        assert response.json() == ITALIAN_USER
    assert raw_first.status_code == 503
    assert raw_later.status_code == 400
    assert raw_later.text == "no"


def test_user_fault_after_key_and_limits(tmp_path: Path) -> None:
    path = write_population(
        tmp_path / "order.jsonl",
        [{"authy_id": 2, "faults": ["500"]}, {"authy_id": 3, "fault": "drop"}],
    )
    clock = FakeClock(utc_epoch(2024, 3, 10, 12))
    settings = {
        "population_file": path,
        "clock": clock,
        "rate_limit": 1,
        "rate_window_seconds": 1.0,
        "monthly_quota": 3,
        "app_limited_counts_for_user": False,
    }
    with emulator_with(**settings) as emulator, client_for(emulator) as client:
        wrong_key = client.get(path_for(2), headers={"X-Authy-API-Key": "wrong"})
        client.get(path_for(1))
        app_limited = client.get(path_for(2))
        clock.now += 1.0
        first_fault = client.get(path_for(2))
        clock.now += 1.0
        after_list = client.get(path_for(2))
        clock.now += 1.0
        client.get(path_for(2))
        clock.now += 1.0
        over_quota = client.get(path_for(2))
        clock.now += 1.0
        for _ in range(3):
            with pytest.raises(httpx.RemoteProtocolError):
                client.get(path_for(3))
            clock.now += 1.0
        drop_user_fourth = client.get(path_for(3))

    assert wrong_key.status_code == 401
    assert app_limited.status_code == 429
    assert first_fault.status_code == 500
    assert after_list.status_code == 200
    assert over_quota.status_code == 429
    assert over_quota.json()["error_code"] == "60003"
    assert drop_user_fourth.status_code == 429


def test_user_fault_overrides_random_faults(tmp_path: Path) -> None:
    path = write_population(
        tmp_path / "mixed.jsonl",
        [{"authy_id": 2, "fault": "500"}, {"authy_id": 3, "faults": ["malformed_json"]}],
    )
    settings = {"population_file": path, "fault_503_html": 1.0}
    with emulator_with(**settings) as emulator, client_for(emulator) as client:
        always = [client.get(path_for(2)).status_code for _ in range(3)]
        listed = client.get(path_for(3))
        after_list = client.get(path_for(3))
        other_user = client.get(path_for(4))

    assert always == [500, 500, 500]
    assert listed.status_code == 200
    assert after_list.status_code == 503
    assert other_user.status_code == 503


# --- stats, latency, concurrency, logs ---------------------------------------------------


def test_stats_counts_and_reset() -> None:
    with emulator_with(population_size=100) as emulator:
        with client_for(emulator) as client:
            for authy_id in (1, 1, 2, 9999, "abc"):
                client.get(path_for(authy_id))
            client.get(path_for(1), headers={"X-Authy-API-Key": "wrong"})
        stats = emulator.stats()
        emulator.reset_stats()
        after_reset = emulator.stats()
        with client_for(emulator) as client:
            third = client.get(path_for(1))
            fourth = client.get(path_for(1))

    assert stats["requests_total"] == 5
    assert stats["requests_rejected_key"] == 1
    assert stats["requests_per_user"] == {"1": 2, "2": 1, "9999": 1}
    assert stats["requests_per_status"] == {"200": 3, "400": 1, "401": 1, "404": 1}
    assert stats["max_requests_in_window"] == 5
    assert stats["monthly_quota"] == 3
    assert after_reset["requests_total"] == 0
    assert after_reset["requests_per_status"] == {}
    assert after_reset["requests_per_user"] == {}
    assert after_reset["max_requests_in_window"] == 0
    assert third.status_code == 200
    assert fourth.status_code == 429


def test_latency_realistic_distribution() -> None:
    sampler = LatencySampler(0.180, seed=7)
    delays = [sampler.sample() for _ in range(20_000)]

    within = sum(0.100 <= delay <= 0.300 for delay in delays)
    assert within > 0.85 * len(delays)
    assert max(delays) <= 2.0
    assert sum(delay > 0.5 for delay in delays) > 0.005 * len(delays)
    assert sorted(delays)[len(delays) // 2] == pytest.approx(0.180, rel=0.05)


def test_latency_median_scales() -> None:
    sampler = LatencySampler(0.010, seed=7)
    delays = sorted(sampler.sample() for _ in range(5_000))

    assert delays[len(delays) // 2] == pytest.approx(0.010, rel=0.05)
    assert delays[-1] <= 0.010 * 2.0 / 0.180 + 1e-12


def test_latency_over_http() -> None:
    with emulator_with(latency="realistic", latency_median_ms=5.0) as emulator:
        with client_for(emulator) as client:
            response = client.get(path_for(1))

    assert response.json() == USER_ONE_BODY


def test_concurrent_keep_alive_clients() -> None:
    async def fetch_all(url: str) -> list[int]:
        # httpx's async pool slows down sharply with many connections, so 20 is enough here.
        limits = httpx.Limits(max_connections=20)
        headers = {"X-Authy-API-Key": API_KEY}
        async with httpx.AsyncClient(
            base_url=url, headers=headers, limits=limits, trust_env=False
        ) as client:
            requests = [client.get(path_for(authy_id)) for authy_id in range(1, 201)]
            responses = await asyncio.gather(*requests)
        return [response.status_code for response in responses]

    with emulator_with(latency="realistic", latency_median_ms=20.0) as emulator:
        statuses = asyncio.run(fetch_all(emulator.url))
        stats = emulator.stats()

    assert statuses.count(200) + statuses.count(400) == 200
    assert stats["requests_total"] == 200
    assert len(stats["requests_per_user"]) == 200


def test_logs_hide_key_and_numbers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="authy_assets.emulator")
    with emulator_with() as emulator, client_for(emulator) as client:
        client.get(path_for(1))
        url = emulator.url

    assert f"listening on {url}" in caplog.text
    assert "stopped" in caplog.text
    assert API_KEY not in caplog.text
    assert "444-555-6666" not in caplog.text


def test_url_and_port() -> None:
    with emulator_with() as emulator:
        assert emulator.url == f"http://127.0.0.1:{emulator.port}"
        assert emulator.port > 0


def test_port_in_use_raises() -> None:
    with emulator_with() as first:
        with pytest.raises(OSError):
            start_emulator(EmulatorConfig(api_key=API_KEY, port=first.port))


def test_serve_forever_stops_on_sigterm() -> None:
    script = (
        "import logging, sys\n"
        "from authy_assets.emulator import EmulatorConfig, serve_forever\n"
        "logging.basicConfig(level=logging.INFO)\n"
        f"config = EmulatorConfig(api_key={API_KEY!r}, latency='none')\n"
        "serve_forever(config, on_ready=lambda url: print(url, flush=True))\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        with httpx.Client(base_url=url, trust_env=False, timeout=5.0) as client:
            response = client.get(path_for(1), headers={"X-Authy-API-Key": API_KEY})
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert url.startswith("http://127.0.0.1:")
    assert response.json() == USER_ONE_BODY
    assert process.returncode == 0
    assert "stopped" in stderr
    assert API_KEY not in stderr


def test_cli_prints_url_once(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "authy_assets.cli", "emulator", "--port", "0", "--latency", "none"],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "AUTHY_API_KEY": API_KEY},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read_output() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=read_output, daemon=True).start()
    output: list[str] = []
    try:
        while not any("listening on" in line for line in output):
            line = lines.get(timeout=30)
            assert line, f"the emulator exited before it listened: {output}"
            output.append(line)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    while (line := lines.get(timeout=10)) != "":
        output.append(line)

    text = "".join(output)
    assert text.count("listening on") == 1
    assert "Authy emulator started (seed 7, 2200 generated users" in text
    assert "stopped" in text
    assert API_KEY not in text


# --- config ------------------------------------------------------------------------------


INVALID_SETTINGS = [
    ({"api_key": ""}, "api_key"),
    ({"api_key": "a\nb"}, "api_key"),
    ({"port": 70000}, "port"),
    ({"population_size": -1}, "population_size"),
    ({"export_disabled_share": 1.5}, "export_disabled_share"),
    ({"rate_limit": 0}, "rate_limit"),
    ({"rate_limit": 2.5}, "rate_limit"),
    ({"rate_window_seconds": 0}, "rate_window_seconds"),
    ({"rate_window_seconds": float("nan")}, "rate_window_seconds"),
    ({"monthly_quota": 0}, "monthly_quota"),
    ({"monthly_quota": True}, "monthly_quota"),
    ({"app_limited_counts_for_user": "yes"}, "app_limited_counts_for_user"),
    ({"retry_after": "5\r\nX-Evil: 1"}, "retry_after"),
    ({"not_found_status": 200}, "not_found_status"),
    ({"export_disabled_status": 600}, "export_disabled_status"),
    ({"rate_limited_status": 99}, "rate_limited_status"),
    ({"latency": "fast"}, "latency"),
    ({"latency_median_ms": -1.0}, "latency_median_ms"),
    ({"latency": "none", "latency_median_ms": 100.0}, "latency_median_ms"),
    ({"fault_500": -0.1}, "fault_500"),
    ({"fault_drop": 1.1}, "fault_drop"),
    ({"fault_500": 0.6, "fault_slow": 0.6}, "fault shares add up to 1.2"),
    ({"slow_seconds": -1.0}, "slow_seconds"),
    ({"clock": 5}, "clock"),
]


@pytest.mark.parametrize(("settings", "message"), INVALID_SETTINGS)
def test_config_rejects_invalid_setting(settings: dict[str, Any], message: str) -> None:
    arguments = {"api_key": API_KEY, **settings}

    with pytest.raises(ValueError, match=message) as caught:
        EmulatorConfig(**arguments)

    assert API_KEY not in str(caught.value)


CLI_NAMED_MESSAGES = [
    ({"rate_window_seconds": -1}, "rate_window_seconds (--rate-window) must be positive, got -1"),
    ({"api_key": ""}, "api_key (--api-key or AUTHY_API_KEY) must be a non-empty string"),
    ({"population_file": 5}, "population_file (--population) must be a path or None, got 5"),
    ({"not_found_status": 200}, "not_found_status (--not-found-status) must be at least 400"),
    (
        {"app_limited_counts_for_user": "yes"},
        "app_limited_counts_for_user (--app-limited-counts-for-user/--app-limited-not-counted)",
    ),
    (
        {"latency": "none", "latency_median_ms": 100.0},
        "latency_median_ms (--latency-median-ms) requires latency 'realistic'"
        " (--latency realistic), got 'none'",
    ),
    (
        {"fault_500": 0.6, "fault_slow": 0.6},
        "so lower fault_500 (--fault-500) or fault_slow (--fault-slow)",
    ),
    ({"clock": 5}, "clock must be a callable"),
]


@pytest.mark.parametrize(("settings", "message"), CLI_NAMED_MESSAGES)
def test_config_message_names_option(settings: dict[str, Any], message: str) -> None:
    arguments = {"api_key": API_KEY, **settings}

    with pytest.raises(ValueError) as caught:
        EmulatorConfig(**arguments)

    assert message in str(caught.value)


def test_cli_options_match_command() -> None:
    from authy_assets.cli import emulator as emulator_command

    options = {
        option: parameter
        for parameter in emulator_command.params
        for option in (*parameter.opts, *parameter.secondary_opts)
    }
    fields = {field.name for field in dataclasses.fields(EmulatorConfig)}

    assert set(CLI_OPTIONS) == fields - {"clock"}
    for name, text in CLI_OPTIONS.items():
        named, _, variable = text.partition(" or ")
        for option in named.split("/"):
            assert option in options, f"{name}: the command has no option {option}"
        if variable:
            assert options[named].envvar == variable


def test_cli_reports_invalid_setting(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "authy_assets.cli", "emulator", "--rate-window", "-1"],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "AUTHY_API_KEY": API_KEY},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "rate_window_seconds (--rate-window) must be positive, got -1.0" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_defaults() -> None:
    config = EmulatorConfig(api_key=API_KEY)

    assert (config.host, config.port) == ("127.0.0.1", 0)
    assert (config.seed, config.population_size) == (7, 2200)
    assert (config.rate_limit, config.rate_window_seconds, config.monthly_quota) == (1500, 60.0, 3)
    assert config.not_found_status == 404
    assert config.export_disabled_status == 400
    assert config.rate_limited_status == 429
    assert config.retry_after is None
    assert config.app_limited_counts_for_user is True
    assert config.export_disabled_share == 0.05
    assert config.latency == "realistic"
    assert config.slow_seconds == 30.0


def test_config_repr_hides_key() -> None:
    config = EmulatorConfig(api_key=API_KEY, population_file="users.jsonl")

    assert API_KEY not in repr(config)
    assert API_KEY not in str(config)
    assert config.population_file == Path("users.jsonl")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("realistic", ("realistic", None)), ("None", ("none", None)), ("250", ("realistic", 250.0))],
)
def test_parse_latency_option(text: str, expected: tuple[str, float | None]) -> None:
    assert parse_latency_option(text) == expected


@pytest.mark.parametrize("text", ["fast", "0", "-5", "inf"])
def test_parse_latency_option_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="latency"):
        parse_latency_option(text)


# --- limits as pure logic ----------------------------------------------------------------


def test_sliding_window_limiter() -> None:
    limiter = SlidingWindowLimiter(limit=2, window_seconds=10.0)

    assert limiter.try_acquire(0.0) is True
    assert limiter.try_acquire(5.0) is True
    assert limiter.try_acquire(9.9) is False
    assert limiter.try_acquire(10.0) is True
    assert limiter.try_acquire(14.9) is False
    assert limiter.try_acquire(15.0) is True


def test_window_peak_counter() -> None:
    counter = WindowPeakCounter(window_seconds=1.0)
    for moment in (0.0, 0.2, 0.9, 1.5, 1.6, 1.7, 1.8, 3.0):
        counter.record(moment)

    assert counter.peak == 5
    counter.reset()
    assert counter.peak == 0


def test_monthly_quota_calendar_month() -> None:
    quota = MonthlyQuota(quota=2)
    end_of_december = utc_epoch(2023, 12, 31, 23, 59, 59)
    new_year = utc_epoch(2024, 1, 1)

    assert [quota.record(7, end_of_december) for _ in range(3)] == [True, True, False]
    assert quota.used(7, end_of_december) == 3
    assert quota.used(7, new_year) == 0
    assert quota.record(7, new_year) is True
    assert month_index(end_of_december) + 1 == month_index(new_year)
