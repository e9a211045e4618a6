"""An authy_id reaches the request URL only as a checked integer."""

from __future__ import annotations

import enum
import sqlite3
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from aiohttp import web

import authy_assets.emulator.server as emulator_server
from authy_assets.client.fetch import fetch_users
from authy_assets.client.request_path import MAX_AUTHY_ID, checked_authy_id, phone_number_path
from authy_assets.client.settings import FetchSettings
from authy_assets.emulator import EmulatorConfig, start_emulator
from authy_assets_tests.conftest import API_KEY


class DisguisedInt(int):
    """An int subclass whose text forms are a path traversal."""

    def __str__(self) -> str:
        return "1/../2"

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return "1/../2"


class TextIndex:
    """An object whose ``__index__`` breaks the protocol by returning text."""

    def __index__(self) -> str:  # type: ignore[override]
        return "12"


class UserNumber(enum.IntEnum):
    SEVEN = 7


VALID_IDS = [
    (1, 1),
    (MAX_AUTHY_ID, MAX_AUTHY_ID),
    (np.int64(5), 5),
    (np.int32(6), 6),
    (np.uint8(7), 7),
    (np.uint64(MAX_AUTHY_ID), MAX_AUTHY_ID),
    (UserNumber.SEVEN, 7),
    (DisguisedInt(8), 8),
]

INVALID_IDS = [
    "1/../2",
    "1?x",
    " 1",
    "1",
    "1.0",
    "%31",
    "",
    b"1",
    True,
    False,
    np.bool_(True),
    1.0,
    np.float64(1.0),
    Decimal("1"),
    Fraction(1),
    None,
    [1],
    TextIndex(),
    0,
    -1,
    np.int64(-1),
    MAX_AUTHY_ID + 1,
    np.uint64(2**64 - 1),
]


@pytest.mark.parametrize(("value", "expected"), VALID_IDS)
def test_path_of_integer_id(value, expected):
    path = phone_number_path(value)

    assert path == f"/protected/json/users/{expected}/phone_number"
    assert type(checked_authy_id(value)) is int


def _label(value: object) -> str:
    # The repr of TextIndex contains a memory address, which would change the test id each run.
    return type(value).__name__ if isinstance(value, TextIndex) else repr(value)


@pytest.mark.parametrize("value", INVALID_IDS, ids=_label)
def test_path_rejects_non_integer_id(value):
    with pytest.raises(ValueError, match="authy_id"):
        phone_number_path(value)


def test_rejected_id_message_masks_number():
    with pytest.raises(ValueError) as raised:
        checked_authy_id("+14445556666")

    assert "14445556666" not in str(raised.value)
    assert "66" in str(raised.value)


@pytest.fixture
def recording_emulator(monkeypatch):
    """Start an emulator that records the raw path of every request it receives."""
    paths: list[str] = []
    create_app = emulator_server.create_app

    @web.middleware
    async def record_path(request: web.Request, handler):
        paths.append(request.raw_path)
        return await handler(request)

    def create_recording_app(config: EmulatorConfig) -> web.Application:
        app = create_app(config)
        app.middlewares.append(record_path)
        return app

    monkeypatch.setattr(emulator_server, "create_app", create_recording_app)
    config = EmulatorConfig(api_key=API_KEY, latency="none", rate_limit=60000)
    with start_emulator(config) as emulator:
        yield emulator, paths


def test_emulator_receives_integer_paths(recording_emulator, tmp_path):
    emulator, paths = recording_emulator
    settings = FetchSettings(base_url=emulator.url, api_key=API_KEY, state_dir=tmp_path)

    with pytest.raises(ValueError, match="authy_id"):
        fetch_users(settings, [1, "1/../2"])
    assert paths == []

    fetch_users(settings, [np.int64(5), UserNumber.SEVEN, DisguisedInt(8)])

    assert sorted(paths) == [
        "/protected/json/users/5/phone_number",
        "/protected/json/users/7/phone_number",
        "/protected/json/users/8/phone_number",
    ]
    assert emulator.stats()["requests_per_status"] == {"200": 3}
    with sqlite3.connect(tmp_path / "authy_ledger.sqlite3") as connection:
        stored = connection.execute("SELECT authy_id, status FROM requests").fetchall()
    assert sorted(stored) == [(5, "ok"), (7, "ok"), (8, "ok")]
