"""Requests that never reach the API spend no quota, and apps never share a ledger."""

from __future__ import annotations

import socket
import sqlite3

import pyarrow.compute as pc
import pytest

from authy_assets.client.fetch import AuthyUnreachableError, fetch_users
from authy_assets.client.settings import FetchSettings
from authy_assets.emulator import EmulatorConfig, start_emulator
from authy_assets_tests.conftest import API_KEY

OTHER_KEY = "OTHERKEY-2b7c9e41aa05-second-authy-app"


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _counted(state_dir) -> list[tuple[int, int]]:
    with sqlite3.connect(state_dir / "authy_ledger.sqlite3") as connection:
        return connection.execute("SELECT authy_id, counted FROM requests").fetchall()


def test_closed_port_stops_fetch_uncounted(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}"
    settings = FetchSettings(base_url=url, api_key=API_KEY, state_dir=tmp_path)

    with pytest.raises(AuthyUnreachableError) as raised:
        fetch_users(settings, [1, 2, 3])

    assert "AUTHY_API_URL" in str(raised.value)
    assert API_KEY not in str(raised.value)
    assert _counted(tmp_path) == [(1, 0)]


def test_unreachable_run_keeps_full_quota(start_authy_emulator, make_project):
    closed = make_project(f"http://127.0.0.1:{_closed_port()}", [1, 2])
    closed.materialize_user_ids()
    (batch_key,) = closed.batch_keys()

    assert not closed.materialize_batch(batch_key, raise_on_error=False).success

    emulator = start_authy_emulator(population_size=10, export_disabled_share=0.0)
    closed.base_url = emulator.url
    closed.materialize_batch(batch_key)
    phones = closed.phones(batch_key)
    assert phones.column("status").to_pylist() == ["ok", "ok"]
    assert emulator.stats()["requests_per_user"] == {"1": 1, "2": 1}


def test_two_apps_keep_separate_ledgers(start_authy_emulator, make_project):
    first = start_authy_emulator(population_size=10, seed=7, export_disabled_share=0.0)
    second = start_emulator(
        EmulatorConfig(
            api_key=OTHER_KEY, population_size=10, seed=99, export_disabled_share=0.0,
            latency="none",
        )
    )
    try:
        project = make_project(first.url, [2, 3])
        project.materialize_user_ids()
        (batch_key,) = project.batch_keys()
        project.materialize_batch(batch_key)
        first_numbers = project.phones(batch_key).column("e164").to_pylist()

        project.base_url = second.url
        project.api_key = OTHER_KEY
        project.materialize_batch(batch_key)
        second_numbers = project.phones(batch_key).column("e164").to_pylist()
        second_requests = second.stats()["requests_total"]
    finally:
        second.stop()

    assert second_requests == 2
    assert second_numbers != first_numbers
    ok = project.phones(batch_key).filter(pc.field("status") == "ok")
    assert ok.num_rows == 2
