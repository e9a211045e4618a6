"""The ``authy-assets`` commands ``run`` and ``emulator``, mostly in child processes."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from dagster._core.instance.ref import InstanceRef

from authy_assets.cli import main
from authy_assets.emulator import EmulatorConfig, start_emulator
from authy_assets.partitions import BATCHES_PARTITION_NAME
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
# Batch partitions that an earlier id list registered in the same Dagster instance.
LEFTOVER_BATCHES = [f"batch-{number:06d}" for number in range(1, BATCH_COUNT + 4)]
WRONG_KEY = "WRONGKEY-3b9e2f7a1c60-authy-assets-do-not-leak"
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


def run_export(
    tmp_path: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, "run", *args],
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
    requests_per_user: dict[str, int]

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
        dagster_home = Path(env["DAGSTER_HOME"])
        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
            instance.add_dynamic_partitions(BATCHES_PARTITION_NAME, LEFTOVER_BATCHES)
        result = run_export(root, env)
        requests_per_user = emulator.stats()["requests_per_user"]
    assert result.returncode == 0, result.stdout + result.stderr
    yield CliRun(
        result=result,
        root=root,
        dagster_home=dagster_home,
        requests_per_user=requests_per_user,
    )


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


def test_run_prints_verify_ready_files(cli_run):
    stdout = cli_run.result.stdout
    exports = cli_run.export_file.parent
    ready = pq.read_table(exports / "verify_ready.parquet")

    assert ready.num_rows > 0
    assert (
        f"{ready.num_rows} users ready for Twilio Verify: {exports / 'verify_ready.csv'}"
        " and verify_ready.parquet"
    ) in stdout
    assert f"Summary: {exports / 'authy_phone_numbers_summary.html'}" in stdout
    assert (exports / "authy_phone_numbers_summary.html").is_file()


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


def test_run_fetches_current_batches_only(cli_run):
    assert f"{BATCH_COUNT} batches to fetch" in cli_run.result.stdout


def test_run_requests_each_user_once(cli_run):
    # The key test request is stored in the ledger, so its batch run does not repeat it.
    assert "Testing AUTHY_API_KEY with one request" in cli_run.result.stdout
    assert sorted(int(authy_id) for authy_id in cli_run.requests_per_user) == sorted(
        set(LISTED_IDS)
    )
    assert set(cli_run.requests_per_user.values()) == {1}


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


def invoke_run(tmp_path: Path, **settings: str):
    """Invoke `authy-assets run` in this process with only the given AUTHY_* variables set."""
    ids_file = tmp_path / "authy_user_ids.csv"
    ids_file.write_text("authy_id\n1\n2\n")
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("AUTHY_")}
    env.update(
        AUTHY_API_URL="http://127.0.0.1:9",
        AUTHY_API_KEY=API_KEY,
        AUTHY_USER_IDS=str(ids_file),
        AUTHY_DATA_DIR=str(tmp_path / "data"),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
    )
    env.update(settings)
    return CliRunner().invoke(main, ["run"], env=env)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def file_in(tmp_path: Path) -> str:
    path = tmp_path / "a_file"
    path.write_text("")
    return str(path)


INVALID_SETTINGS = [
    ("AUTHY_BATCH_SIZE", "abc", ["must be a whole number of at least 1, got 'abc'"]),
    ("AUTHY_BATCH_SIZE", "0", ["must be a whole number of at least 1, got '0'", "1000"]),
    ("AUTHY_BATCH_SIZE", "1_000", ["got '1_000'"]),
    ("AUTHY_RATE_LIMIT", "1e3", ["must be a whole number of at least 1, got '1e3'"]),
    ("AUTHY_RATE_LIMIT", "0", ["got '0'", "1500"]),
    (
        "AUTHY_BATCH_SIZE",
        "99999999999999999999",
        ["must be a whole number from 1 to 1,000,000, got '99999999999999999999'", "1000"],
    ),
    (
        "AUTHY_RATE_LIMIT",
        "99999999999999999999",
        ["must be a whole number from 1 to 1,000,000, got '99999999999999999999'", "1500"],
    ),
    ("AUTHY_API_URL", "ftp://127.0.0.1:21", ["'ftp://127.0.0.1:21'", "https://"]),
    ("AUTHY_API_URL", "http://api.authy.com", ["'http://api.authy.com'", "https://"]),
    ("AUTHY_API_KEY", "two words", ["space"]),
    ("AUTHY_SHARE_WITH_GROUP", "yes", ["'yes'"]),
]


@pytest.mark.parametrize(("name", "value", "expected"), INVALID_SETTINGS)
def test_run_rejects_invalid_setting(tmp_path, name, value, expected):
    result = invoke_run(tmp_path, **{name: value})

    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    (line,) = error_lines(result.stderr)
    assert line == result.stderr.strip()
    assert name in line
    for text in expected:
        assert text in line
    assert "two words" not in result.output
    assert API_KEY not in result.output
    assert not (tmp_path / "dagster_home").exists()


@pytest.mark.parametrize(
    ("name", "make_path", "expected"),
    [
        ("AUTHY_USER_IDS", lambda tmp_path: str(tmp_path / "missing.csv"), "does not exist"),
        ("AUTHY_USER_IDS", lambda tmp_path: str(tmp_path), "is not a file"),
        ("AUTHY_DATA_DIR", file_in, "is not a directory"),
    ],
)
def test_run_rejects_invalid_path(tmp_path, name, make_path, expected):
    path = make_path(tmp_path)

    result = invoke_run(tmp_path, **{name: path})

    assert result.exit_code == 1
    (line,) = error_lines(result.stderr)
    assert name in line
    assert path in line
    assert expected in line
    assert not (tmp_path / "dagster_home").exists()


def test_run_invalid_setting_has_no_traceback(tmp_path):
    ids_file = tmp_path / "authy_user_ids.csv"
    ids_file.write_text("authy_id\n1\n")
    env = cli_env(
        tmp_path,
        AUTHY_API_URL="http://127.0.0.1:9",
        AUTHY_API_KEY=API_KEY,
        AUTHY_USER_IDS=str(ids_file),
        AUTHY_DATA_DIR=str(tmp_path / "data"),
        AUTHY_RATE_LIMIT="1e3",
    )

    result = run_export(tmp_path, env)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert line == result.stderr.strip()
    assert "AUTHY_RATE_LIMIT" in line
    assert "'1e3'" in line


def instance_job_names(dagster_home: Path) -> list[str]:
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        return sorted(run.job_name for run in instance.get_runs())


def test_run_wrong_key_sends_one_request(tmp_path, start_authy_emulator):
    emulator = start_authy_emulator(rate_limit=int(FAST_RATE_LIMIT))
    ids_file = tmp_path / "authy_user_ids.csv"
    ids_file.write_text("authy_id\n" + "".join(f"{authy_id}\n" for authy_id in LISTED_IDS))
    env = cli_env(
        tmp_path,
        AUTHY_API_URL=emulator.url,
        AUTHY_API_KEY=WRONG_KEY,
        AUTHY_USER_IDS=str(ids_file),
        AUTHY_DATA_DIR=str(tmp_path / "data"),
        AUTHY_BATCH_SIZE=str(BATCH_SIZE),
        AUTHY_RATE_LIMIT=FAST_RATE_LIMIT,
    )

    result = run_export(tmp_path, env, "--parallel", str(BATCH_COUNT))

    assert result.returncode == 1, result.stdout + result.stderr
    stats = emulator.stats()
    assert stats["requests_rejected_key"] == 1
    assert stats["requests_per_status"] == {"401": 1}
    assert stats["requests_total"] == 0
    assert "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert "rejected the API key" in line
    assert "AUTHY_API_KEY" in line
    assert WRONG_KEY not in result.stdout + result.stderr
    assert instance_job_names(Path(env["DAGSTER_HOME"])) == ["authy_user_ids_job"]


def test_run_key_test_counts_as_attempt(tmp_path, start_authy_emulator):
    # The key test picks the first user. A 500 for it leaves one attempt to the batch run, so
    # the user gets max_attempts_per_run (2) requests in all, not 3.
    failing_user = 5
    population = tmp_path / "population.jsonl"
    population.write_text(json.dumps({"authy_id": failing_user, "fault": "500"}) + "\n")
    emulator = start_authy_emulator(
        rate_limit=int(FAST_RATE_LIMIT), population_file=population, population_size=20
    )
    ids_file = tmp_path / "authy_user_ids.csv"
    ids_file.write_text("authy_id\n" + "".join(f"{authy_id}\n" for authy_id in range(5, 15)))
    env = cli_env(
        tmp_path,
        AUTHY_API_URL=emulator.url,
        AUTHY_API_KEY=API_KEY,
        AUTHY_USER_IDS=str(ids_file),
        AUTHY_DATA_DIR=str(tmp_path / "data"),
        AUTHY_RATE_LIMIT=FAST_RATE_LIMIT,
    )

    result = run_export(tmp_path, env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"one request (authy_id {failing_user} " in result.stdout
    requests = emulator.stats()["requests_per_user"]
    assert requests[str(failing_user)] == 2
    assert all(requests[str(authy_id)] == 1 for authy_id in range(6, 15)), requests
    export = pq.read_table(tmp_path / "data" / "exports" / "authy_phone_numbers.parquet")
    statuses = dict(zip(export.column("authy_id").to_pylist(), export.column("status").to_pylist()))
    assert statuses[failing_user] == "server_error"


def test_run_all_batches_failed(tmp_path, start_authy_emulator):
    emulator = start_authy_emulator(rate_limit=int(FAST_RATE_LIMIT))
    ids_file = tmp_path / "authy_user_ids.csv"
    ids_file.write_text("authy_id\n" + "".join(f"{authy_id}\n" for authy_id in LISTED_IDS))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # A file where the raw responses directory belongs fails every batch after its fetch.
    (data_dir / "raw").write_text("")
    env = cli_env(
        tmp_path,
        AUTHY_API_URL=emulator.url,
        AUTHY_API_KEY=API_KEY,
        AUTHY_USER_IDS=str(ids_file),
        AUTHY_DATA_DIR=str(data_dir),
        AUTHY_BATCH_SIZE=str(BATCH_SIZE),
        AUTHY_RATE_LIMIT=FAST_RATE_LIMIT,
    )

    result = run_export(tmp_path, env)

    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"^0 users$", result.stdout, re.MULTILINE), result.stdout
    (line,) = error_lines(result.stderr)
    assert line.startswith(f"Error: all {BATCH_COUNT} batches failed")
    assert "batch-000001" in line
    assert str(data_dir / "raw") in line
    assert "not requested again" not in line


def test_run_invalid_id_list_names_variable(tmp_path):
    ids_file = tmp_path / "authy_user_ids.csv"
    ids_file.write_text("authy_id\nnot-an-id\n")
    env = cli_env(
        tmp_path,
        AUTHY_API_URL="http://127.0.0.1:9",
        AUTHY_API_KEY=API_KEY,
        AUTHY_USER_IDS=str(ids_file),
        AUTHY_DATA_DIR=str(tmp_path / "data"),
    )

    result = run_export(tmp_path, env)

    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = error_lines(result.stderr)
    assert "AUTHY_USER_IDS" in line
    assert str(ids_file) in line
    assert "no valid user ids" in line
    assert "line 2: " in line
    assert "Stack Trace" not in result.stderr
    assert instance_job_names(Path(env["DAGSTER_HOME"])) == []


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "is empty"),
        ("image.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "PNG"),
        ("utf16.csv", "authy_id\n1\n".encode("utf-16"), "UTF"),
    ],
)
def test_run_unreadable_id_list_is_one_line(tmp_path, name, content, expected):
    ids_file = tmp_path / name
    ids_file.write_bytes(content)
    # A one-letter key that occurs inside the path and the message must not be replaced there.
    env = cli_env(
        tmp_path,
        AUTHY_API_URL="http://127.0.0.1:9",
        AUTHY_API_KEY="e",
        AUTHY_USER_IDS=str(ids_file),
        AUTHY_DATA_DIR=str(tmp_path / "data"),
    )

    result = run_export(tmp_path, env)

    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith("Error: AUTHY_USER_IDS: ")
    assert str(ids_file) in line
    assert expected in line
    assert "<AUTHY_API_KEY>" not in line
    assert "Traceback" not in result.stderr
    assert "Stack Trace" not in result.stderr


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


def _ledger_requests(data_dir: Path) -> dict[int, int]:
    with sqlite3.connect(data_dir / "state" / "authy_ledger.sqlite3") as connection:
        rows = connection.execute("SELECT authy_id, COUNT(*) FROM requests GROUP BY authy_id")
        return dict(rows.fetchall())


def _group_alive(group_id: int) -> bool:
    try:
        os.killpg(group_id, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(
    ("stop_signal", "to_group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False)],
    ids=["ctrl-c-to-group", "sigterm-to-main"],
)
def test_run_stops_on_signal(tmp_path, start_authy_emulator, stop_signal, to_group):
    # Ctrl-C sends SIGINT to every process of the terminal's group; `timeout` and service
    # managers send SIGTERM to the main process alone. Either must stop every batch process.
    users = 300
    emulator = start_authy_emulator(rate_limit=600, population_size=users)
    ids_file = tmp_path / "authy_user_ids.csv"
    ids_file.write_text("authy_id\n" + "".join(f"{authy_id}\n" for authy_id in range(1, users + 1)))
    data_dir = tmp_path / "data"
    env = cli_env(
        tmp_path,
        AUTHY_API_URL=emulator.url,
        AUTHY_API_KEY=API_KEY,
        AUTHY_USER_IDS=str(ids_file),
        AUTHY_DATA_DIR=str(data_dir),
        AUTHY_BATCH_SIZE="50",
        AUTHY_RATE_LIMIT="600",
    )
    process = subprocess.Popen(
        [CLI, "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while emulator.stats()["requests_total"] < 20:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the run sent too few requests"
            time.sleep(0.1)
        signalled_at = time.time()
        if to_group:
            os.killpg(process.pid, stop_signal)
        else:
            process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)

    assert process.returncode == 128 + stop_signal, stdout + stderr
    (line,) = error_lines(stderr)
    assert f"stopped by {signal.Signals(stop_signal).name}" in line
    assert "authy-assets run` again" in line
    deadline = time.monotonic() + 30
    while _group_alive(process.pid):
        assert time.monotonic() < deadline, "a batch process outlived the stopped run"
        time.sleep(0.1)
    sent = emulator.stats()["requests_per_user"]
    assert sum(sent.values()) < users, "the run fetched every user before it stopped"
    # No batch run starts after the signal, and none is left looking unfinished, which would
    # hold back authy_export_sensor.
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        records = instance.get_run_records()
    fetch_runs = [record for record in records if record.dagster_run.job_name != "authy_user_ids_job"]
    assert fetch_runs
    for record in fetch_runs:
        assert record.dagster_run.is_finished, record.dagster_run
        assert record.create_timestamp.timestamp() < signalled_at, record.dagster_run
    recorded = _ledger_requests(data_dir)
    for authy_id, count in sent.items():
        assert recorded.get(int(authy_id), 0) >= count, f"user {authy_id} sent but not recorded"

    rerun = run_export(tmp_path, env)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    export = pq.read_table(data_dir / "exports" / "authy_phone_numbers.parquet")
    assert export.num_rows == users
    assert max(emulator.stats()["requests_per_user"].values()) <= 3
