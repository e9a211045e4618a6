"""Checks of the AUTHY_* variables and DAGSTER_HOME before `authy-assets run` starts Dagster."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from authy_assets.batches import MAX_BATCH_SIZE, BatchAssignmentError, BatchAssignments
from authy_assets.client.settings import MAX_RATE_LIMIT, AuthySettingsError
from authy_assets.environment import load_run_settings
from authy_assets.resources import AuthyApiResource, AuthyStorageResource
from authy_assets_tests.conftest import API_KEY
from authy_assets_tests.test_cli import cli_env, run_export

TOO_LARGE = "99999999999999999999"


@pytest.fixture
def run_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Set valid run settings in this process, with the data and Dagster directories missing."""
    for name in list(os.environ):
        if name.startswith("AUTHY_"):
            monkeypatch.delenv(name)
    ids_file = tmp_path / "authy_user_ids.csv"
    ids_file.write_text("authy_id\n1\n2\n")
    monkeypatch.setenv("AUTHY_API_KEY", API_KEY)
    monkeypatch.setenv("AUTHY_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AUTHY_USER_IDS", str(ids_file))
    monkeypatch.setenv("AUTHY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return tmp_path


def test_largest_settings_accepted(run_env, monkeypatch):
    monkeypatch.setenv("AUTHY_BATCH_SIZE", str(MAX_BATCH_SIZE))
    monkeypatch.setenv("AUTHY_RATE_LIMIT", str(MAX_RATE_LIMIT))

    settings = load_run_settings()

    assert settings.storage.batch_size == MAX_BATCH_SIZE
    assert settings.fetch.rate_limit == MAX_RATE_LIMIT


@pytest.mark.parametrize(
    ("name", "maximum"),
    [("AUTHY_BATCH_SIZE", MAX_BATCH_SIZE), ("AUTHY_RATE_LIMIT", MAX_RATE_LIMIT)],
)
def test_setting_above_maximum_rejected(run_env, monkeypatch, name, maximum):
    monkeypatch.setenv(name, str(maximum + 1))

    with pytest.raises(ValueError) as caught:
        load_run_settings()

    message = str(caught.value)
    assert message.startswith(f"{name} must be a whole number from 1 to {maximum:,}")
    assert f"got '{maximum + 1}'" in message
    assert not (run_env / "dagster_home").exists()


def test_missing_directories_created(run_env, monkeypatch):
    data_dir = run_env / "new" / "data"
    monkeypatch.setenv("AUTHY_DATA_DIR", str(data_dir))

    load_run_settings()

    assert data_dir.is_dir()
    assert (run_env / "dagster_home").is_dir()
    assert os.listdir(data_dir) == []


def test_invalid_id_list_creates_no_directory(run_env, monkeypatch):
    monkeypatch.setenv("AUTHY_USER_IDS", str(run_env / "missing.csv"))

    with pytest.raises(ValueError, match="AUTHY_USER_IDS"):
        load_run_settings()

    assert not (run_env / "data").exists()
    assert not (run_env / "dagster_home").exists()


def test_storage_resource_rejects_huge_batch_size(tmp_path):
    storage = AuthyStorageResource(
        data_dir=str(tmp_path), user_ids_path=str(tmp_path / "ids.csv"), batch_size=10**20
    )

    with pytest.raises(BatchAssignmentError) as caught:
        BatchAssignments(storage.batches_db, storage.batch_size)

    assert f"<= {MAX_BATCH_SIZE:,}" in str(caught.value)
    assert str(10**20) in str(caught.value)


def test_api_resource_rejects_huge_rate_limit(tmp_path):
    api = AuthyApiResource(
        base_url="https://api.authy.com",
        api_key=API_KEY,
        state_dir=str(tmp_path),
        rate_limit=10**20,
    )

    with pytest.raises(AuthySettingsError) as caught:
        api.fetch_settings()

    assert f"from 1 to {MAX_RATE_LIMIT:,}" in str(caught.value)
    assert API_KEY not in str(caught.value)


def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a_file"
    path.write_text("")
    return path


# Each case: the variable, a function of tmp_path that returns its value, and the texts that
# the error line must contain besides the variable and its value.
UNUSABLE_SETTINGS: list[tuple[str, Callable[[Path], str], list[str]]] = [
    ("AUTHY_BATCH_SIZE", lambda tmp_path: TOO_LARGE, ["from 1 to 1,000,000"]),
    ("AUTHY_RATE_LIMIT", lambda tmp_path: TOO_LARGE, ["from 1 to 1,000,000"]),
    ("AUTHY_DATA_DIR", lambda tmp_path: "/proc/x", ["creating it failed"]),
    ("AUTHY_DATA_DIR", lambda tmp_path: str(a_file(tmp_path) / "sub"), ["Not a directory"]),
    ("AUTHY_DATA_DIR", lambda tmp_path: "/proc", ["creating a file in it failed"]),
    ("DAGSTER_HOME", lambda tmp_path: str(a_file(tmp_path)), ["it is not a directory"]),
    ("DAGSTER_HOME", lambda tmp_path: str(a_file(tmp_path) / "sub"), ["Not a directory"]),
    ("DAGSTER_HOME", lambda tmp_path: "/proc/x", ["creating it failed"]),
]


@pytest.mark.parametrize(("name", "make_value", "expected"), UNUSABLE_SETTINGS)
def test_cli_rejects_unusable_setting(tmp_path, name, make_value, expected):
    ids_file = tmp_path / "authy_user_ids.csv"
    ids_file.write_text("authy_id\n1\n")
    value = make_value(tmp_path)
    env = cli_env(
        tmp_path,
        AUTHY_API_KEY=API_KEY,
        AUTHY_API_URL="http://127.0.0.1:9",
        AUTHY_USER_IDS=str(ids_file),
        AUTHY_DATA_DIR=str(tmp_path / "data"),
    )
    env[name] = value

    result = run_export(tmp_path, env)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith(f"Error: {name} ")
    assert value in line
    for text in expected:
        assert text in line
    assert result.stdout == ""


def test_cli_counts_one_user_in_singular(tmp_path):
    # Port 9 (discard) has no listener on 127.0.0.1, so the key test fails to connect.
    ids_file = tmp_path / "authy_user_ids.csv"
    ids_file.write_text("authy_id\n1\n")
    env = cli_env(
        tmp_path,
        AUTHY_API_KEY=API_KEY,
        AUTHY_API_URL="http://127.0.0.1:9",
        AUTHY_USER_IDS=str(ids_file),
        AUTHY_DATA_DIR=str(tmp_path / "data"),
    )

    result = run_export(tmp_path, env)

    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "1 distinct user id in 1 batch (1 new)" in output
    assert "(the first attempt failed, and it did not reach the API" in output
    assert "1 attempts" not in output
    assert "1 distinct user ids" not in output


def test_dagster_home_tilde_expanded(tmp_path, monkeypatch):
    # Shells do not expand ~ inside DAGSTER_HOME='~/x', so the project must.
    from authy_assets.instance import prepare_dagster_home

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)

    home = prepare_dagster_home(Path("~/dagster_home"))

    assert home == tmp_path / "dagster_home"
    assert (home / "dagster.yaml").is_file()
    assert not (tmp_path / "~").exists()
