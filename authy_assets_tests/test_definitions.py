"""The Dagster definitions: loaded from the module, through workspace.yaml, and by the web UI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest

from authy_assets.client.settings import AuthySettingsError
from authy_assets.paths import env_int
from authy_assets_tests.conftest import API_KEY

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ASSET_NAMES = {"authy_user_ids", "authy_raw_responses", "authy_phone_numbers", "authy_phone_export"}
CHECK_NAMES = {
    "export_disabled_users",
    "users_not_found",
    "one_row_per_user",
    "ok_rows_have_valid_e164",
}
JOB_NAMES = {"authy_user_ids_job", "authy_fetch_batch_job", "authy_export_job"}
WEBSERVER_START_SECONDS = 60.0
ASSET_NODES_QUERY = """
{
  assetNodes {
    assetKey { path }
    groupName
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name } }
    }
  }
}
"""


def test_module_defines_assets():
    from authy_assets.definitions import defs

    asset_graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in asset_graph.get_all_asset_keys()}

    assert keys == ASSET_NAMES
    for name in ASSET_NAMES:
        node = asset_graph.get(dg.AssetKey(name))
        assert node.group_name == "authy_export", name
        assert node.kinds == {"python", "parquet"}, name
        assert node.owners == ["team:data-engineering"], name
        assert node.description and len(node.description) > 40, name


def test_module_partitions_batch_assets():
    from authy_assets.definitions import defs

    asset_graph = defs.resolve_asset_graph()
    partitioned = {
        name
        for name in ASSET_NAMES
        if asset_graph.get(dg.AssetKey(name)).partitions_def is not None
    }

    assert partitioned == {"authy_raw_responses", "authy_phone_numbers"}
    partitions_def = asset_graph.get(dg.AssetKey("authy_phone_numbers")).partitions_def
    assert isinstance(partitions_def, dg.DynamicPartitionsDefinition)
    assert partitions_def.name == "authy_batches"


def test_module_defines_checks():
    from authy_assets.definitions import defs

    check_keys = defs.resolve_asset_graph().asset_check_keys

    assert {key.name for key in check_keys} == CHECK_NAMES
    assert {key.asset_key for key in check_keys} == {dg.AssetKey("authy_phone_numbers")}


def test_module_defines_jobs_sensors_schedule():
    from authy_assets.definitions import defs

    job_names = {job.name for job in defs.resolve_all_job_defs()}

    assert JOB_NAMES <= job_names
    assert {sensor.name for sensor in defs.sensors} == {
        "authy_user_ids_sensor",
        "authy_export_sensor",
    }
    assert [schedule.name for schedule in defs.schedules] == ["authy_monthly_refresh"]
    schedule = defs.resolve_schedule_def("authy_monthly_refresh")
    assert schedule.cron_schedule == "0 6 1 * *"
    assert schedule.execution_timezone == "UTC"


def authy_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Return AUTHY_* settings that point every file into tmp_path."""
    ids_file = tmp_path / "authy_user_ids.csv"
    ids_file.write_text("authy_id\n1\n2\n")
    return {
        "AUTHY_API_KEY": API_KEY,
        "AUTHY_USER_IDS": str(ids_file),
        "AUTHY_DATA_DIR": str(tmp_path / "data"),
        **overrides,
    }


def api_resource_settings(monkeypatch, tmp_path: Path, api_url: str):
    """Build the definitions with AUTHY_API_URL set and return what the API resource checks."""
    from authy_assets.definitions import build_definitions

    for name, value in authy_env(tmp_path, AUTHY_API_URL=api_url).items():
        monkeypatch.setenv(name, value)
    defs = build_definitions()
    with dg.build_resources({"authy_api": defs.resources["authy_api"]}) as resources:
        return resources.authy_api.fetch_settings()


@pytest.mark.parametrize(
    "api_url",
    ["http://api.authy.com", "http://10.0.0.5:8080", "http://authy.example.org"],
)
def test_plain_http_url_rejected(monkeypatch, tmp_path, api_url):
    with pytest.raises(AuthySettingsError) as error:
        api_resource_settings(monkeypatch, tmp_path, api_url)

    message = str(error.value)
    assert "AUTHY_API_URL" in message
    assert api_url in message
    assert API_KEY not in message


@pytest.mark.parametrize(
    "api_url",
    ["https://api.authy.com", "http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost:80"],
)
def test_https_or_loopback_url_accepted(monkeypatch, tmp_path, api_url):
    settings = api_resource_settings(monkeypatch, tmp_path, api_url)

    assert settings.base_url == api_url
    assert settings.api_key == API_KEY


@pytest.mark.parametrize(
    ("value", "expected"), [("", 1000), ("   ", 1000), ("25", 25), (" 25 ", 25), ("+25", 25)]
)
def test_env_int_reads_whole_number(monkeypatch, value, expected):
    monkeypatch.setenv("AUTHY_BATCH_SIZE", value)

    assert env_int("AUTHY_BATCH_SIZE", 1000, minimum=1) == expected


def test_env_int_unset_returns_default(monkeypatch):
    monkeypatch.delenv("AUTHY_BATCH_SIZE", raising=False)

    assert env_int("AUTHY_BATCH_SIZE", 1000, minimum=1) == 1000


@pytest.mark.parametrize("value", ["0", "-3", "abc", "1e3", "2.5", "1_000", "\u0663"])
def test_env_int_rejects_invalid_value(monkeypatch, value):
    monkeypatch.setenv("AUTHY_BATCH_SIZE", value)

    with pytest.raises(ValueError) as error:
        env_int("AUTHY_BATCH_SIZE", 1000, minimum=1)

    message = str(error.value)
    assert message.startswith(
        f"AUTHY_BATCH_SIZE must be a whole number of at least 1, got {value!r}."
    )
    assert "default 1000" in message


@pytest.mark.parametrize("name", ["AUTHY_BATCH_SIZE", "AUTHY_RATE_LIMIT"])
def test_definitions_reject_zero_setting(monkeypatch, tmp_path, name):
    from authy_assets.definitions import build_definitions

    for variable, value in authy_env(tmp_path, **{name: "0"}).items():
        monkeypatch.setenv(variable, value)

    with pytest.raises(ValueError) as error:
        build_definitions()

    assert str(error.value).startswith(f"{name} must be a whole number of at least 1, got '0'")


def quiet_dagster_home(tmp_path: Path) -> Path:
    """Create a Dagster home whose telemetry is off, so no child process uploads usage data."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


def child_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Return the environment of a Dagster child process: no proxy, a private home."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AUTHY_") and "proxy" not in name.lower()
    }
    env.update(authy_env(tmp_path))
    env["DAGSTER_HOME"] = str(quiet_dagster_home(tmp_path))
    env["DAGSTER_DISABLE_TELEMETRY"] = "1"
    env.update(overrides)
    return env


def validate_workspace(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_workspace_loads(tmp_path):
    result = validate_workspace(child_env(tmp_path))

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Validation successful for code location authy_assets" in output


def test_workspace_reports_invalid_setting(tmp_path):
    result = validate_workspace(child_env(tmp_path, AUTHY_BATCH_SIZE="fifty"))

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "AUTHY_BATCH_SIZE" in output


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[str]:
    """Start dagster-webserver on workspace.yaml the way `make ui` does; yield its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "webserver.log"
    command = [
        str(BIN / "dagster-webserver"),
        "-w",
        "workspace.yaml",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=child_env(tmp_path),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_serving(process, url, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_until_serving(process: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + WEBSERVER_START_SECONDS
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"dagster-webserver exited with code {process.returncode}:\n"
                    + log_path.read_text(errors="replace")
                )
            try:
                if client.get(f"{url}/server_info").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"dagster-webserver did not answer on {url} within {WEBSERVER_START_SECONDS} s"
                    ":\n" + log_path.read_text(errors="replace")
                )
            time.sleep(0.25)


def test_webserver_lists_assets_and_checks(webserver):
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        response = client.post(f"{webserver}/graphql", json={"query": ASSET_NODES_QUERY})

    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    nodes = {"/".join(node["assetKey"]["path"]): node for node in body["data"]["assetNodes"]}
    assert set(nodes) == ASSET_NAMES
    for name, node in nodes.items():
        assert node["groupName"] == "authy_export", name
    checks = nodes["authy_phone_numbers"]["assetChecksOrError"]
    assert checks["__typename"] == "AssetChecks"
    assert {check["name"] for check in checks["checks"]} == CHECK_NAMES
