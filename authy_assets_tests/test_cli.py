"""The ``authy-assets`` command in child processes: ``run`` and ``emulator``."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pyarrow.parquet as pq
import pytest
from dagster._core.instance.ref import InstanceRef

from authy_assets.emulator import EmulatorConfig, start_emulator
from authy_assets_tests.conftest import API_KEY

BIN = Path(sys.executable).parent
CLI = str(BIN / "authy-assets")
# Both the emulator and the client allow this many requests a minute, so the run does not
# wait for the 1500-a-minute spacing of the real API.
FAST_RATE_LIMIT = "60000"
BATCH_SIZE = 50
UNKNOWN_IDS = [900_001, 900_002]
# Ids 1..2200 exist in the emulator's default population. Ids 5 and 7 are listed twice.
LISTED_IDS = [*range(1, 111), *UNKNOWN_IDS, 5, 7]
BATCH_COUNT = -(-len(set(LISTED_IDS)) // BATCH_SIZE)
DOCUMENTED_USER_1 = {
    "phone_number": "444-555-6666",
    "country_code": "1",
    "e164": "+14445556666",
    "updated_at": "2021-12-09T15:41:20Z",
}
READY_LINE_RE = re.compile(r"Authy emulator listening on (http://127\.0\.0\.1:(\d+))")
SUMMARY_RE = re.compile(r"^(\d+) users: (.+)$", re.MULTILINE)


def cli_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """Return an environment with no AUTHY_* variable, no proxy and a quiet Dagster home."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AUTHY_") and "proxy" not in name.lower()
    }
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env["DAGSTER_HOME"] = str(home)
    env["DAGSTER_DISABLE_TELEMETRY"] = "1"
    env.update(settings)
    return env


def run_export(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@dataclass(frozen=True)
class CliRun:
    """One `authy-assets run` against an emulator: its output and where it wrote."""

    result: subprocess.CompletedProcess[str]
    root: Path
    dagster_home: Path

    @property
    def export_file(self) -> Path:
        return self.root / "data" / "exports" / "authy_phone_numbers.parquet"

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> Iterator[CliRun]:
    """Run `authy-assets run` once for this module against an emulator on 127.0.0.1."""
    root = tmp_path_factory.mktemp("cli_run")
    ids_file = root / "authy_user_ids.csv"
    ids_file.write_text("authy_id\n" + "".join(f"{authy_id}\n" for authy_id in LISTED_IDS))
    config = EmulatorConfig(api_key=API_KEY, latency="none", rate_limit=int(FAST_RATE_LIMIT))
    with start_emulator(config) as emulator:
        env = cli_env(
            root,
            AUTHY_API_URL=emulator.url,
            AUTHY_API_KEY=API_KEY,
            AUTHY_USER_IDS=str(ids_file),
            AUTHY_DATA_DIR=str(root / "data"),
            AUTHY_BATCH_SIZE=str(BATCH_SIZE),
            AUTHY_RATE_LIMIT=FAST_RATE_LIMIT,
        )
        result = run_export(root, env)
    assert result.returncode == 0, result.stdout + result.stderr
    yield CliRun(result=result, root=root, dagster_home=Path(env["DAGSTER_HOME"]))


def test_run_prints_export_and_summary(cli_run):
    stdout = cli_run.result.stdout

    assert f"Export written to {cli_run.export_file}" in stdout
    summary = SUMMARY_RE.search(stdout)
    assert summary is not None, stdout
    printed = {
        status: int(count)
        for count, status in (part.split(" ", 1) for part in summary.group(2).split(", "))
    }
    statuses = Counter(pq.read_table(cli_run.export_file).column("status").to_pylist())
    assert int(summary.group(1)) == len(set(LISTED_IDS))
    assert printed == dict(statuses)
    assert printed["user_not_found"] == len(UNKNOWN_IDS)


def test_run_exports_one_row_per_id(cli_run):
    export = pq.read_table(cli_run.export_file)

    authy_ids = export.column("authy_id").to_pylist()
    assert len(authy_ids) == len(set(LISTED_IDS))
    assert sorted(authy_ids) == sorted(set(LISTED_IDS))


def test_run_records_runs_in_instance(cli_run):
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(cli_run.dagster_home))) as instance:
        runs = instance.get_runs()

    assert Counter(run.job_name for run in runs) == {
        "authy_user_ids_job": 1,
        "authy_fetch_batch_job": BATCH_COUNT,
        "authy_export_job": 1,
    }
    assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}
    partitions = sorted(
        run.tags["dagster/partition"] for run in runs if run.job_name == "authy_fetch_batch_job"
    )
    assert partitions == [f"batch-{number:06d}" for number in range(1, BATCH_COUNT + 1)]


def test_run_logs_progress(cli_run):
    for number in range(1, BATCH_COUNT + 1):
        batch_key = f"batch-{number:06d}"
        assert re.search(rf"{batch_key}: (\d+)/\1 users done", cli_run.output), batch_key
        assert f"] {batch_key} done" in cli_run.result.stdout, batch_key


def test_run_output_hides_key_and_numbers(cli_run):
    assert API_KEY not in cli_run.output
    assert DOCUMENTED_USER_1["phone_number"] not in cli_run.output
    assert DOCUMENTED_USER_1["e164"] not in cli_run.output
    for path in cli_run.root.rglob("*"):
        if path.is_file():
            assert API_KEY.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("api_key", [None, "", "   "])
def test_run_without_api_key_fails(tmp_path, api_key):
    home = tmp_path / "not_created"
    env = cli_env(tmp_path, AUTHY_API_URL="http://127.0.0.1:9", DAGSTER_HOME=str(home))
    if api_key is not None:
        env["AUTHY_API_KEY"] = api_key

    result = run_export(tmp_path, env)

    assert result.returncode != 0
    assert "AUTHY_API_KEY" in result.stderr
    assert not home.exists()


def start_emulator_process(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    """Start `authy-assets emulator` with stdout piped and stderr in emulator.log."""
    env = cli_env(tmp_path, AUTHY_API_KEY=API_KEY)
    with open(tmp_path / "emulator.log", "w") as log:
        return subprocess.Popen(
            [CLI, "emulator", "--latency", "none", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """Return the next line of the process's stdout, or fail after ``timeout`` seconds."""
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True)
    reader.start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"the emulator printed no line within {timeout} s")


def stop_process(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def test_emulator_serves_documented_user(tmp_path):
    process = start_emulator_process(tmp_path, "--port", "0")
    try:
        ready = READY_LINE_RE.search(read_line(process, timeout=30))
        assert ready is not None
        url, port = ready.group(1), int(ready.group(2))
        assert port != 0

        with httpx.Client(trust_env=False, timeout=10.0) as client:
            response = client.get(
                f"{url}/protected/json/users/1/phone_number",
                headers={"X-Authy-API-Key": API_KEY},
            )
            assert response.status_code == 200
            assert response.json() == DOCUMENTED_USER_1

            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
            with pytest.raises(httpx.ConnectError):
                client.get(f"{url}/protected/json/users/1/phone_number")
    finally:
        stop_process(process)
    assert API_KEY not in (tmp_path / "emulator.log").read_text()


def test_emulator_busy_port_fails(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = start_emulator_process(tmp_path, "--port", str(port))
        try:
            returncode = process.wait(timeout=30)
        finally:
            stop_process(process)

    log = (tmp_path / "emulator.log").read_text()
    assert returncode != 0
    assert f"failed to listen on 127.0.0.1:{port}" in log
    assert "Traceback" not in log


def test_emulator_without_api_key_fails(tmp_path):
    result = subprocess.run(
        [CLI, "emulator", "--port", "0"],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "AUTHY_API_KEY" in result.stderr
