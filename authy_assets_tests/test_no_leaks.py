"""A headless run leaves the API key nowhere and phone numbers only in the data files.

`authy-assets run` runs as a child process against the emulator twice. The first run uses a
canary API key and a population whose users get faults and odd responses, so that retry and
error paths log too. The second uses a wrong canary key. Then every file under the data
directory and under DAGSTER_HOME, the captured output and the Dagster event log are searched.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster._serdes import serialize_value

from authy_assets.emulator import EmulatorConfig, start_emulator
from authy_assets.masking import mask_phone

CLI = str(Path(sys.executable).parent / "authy-assets")
CANARY_KEY = "leak-canary-" + secrets.token_hex(16)
WRONG_CANARY_KEY = "leak-canary-wrong-" + secrets.token_hex(16)
FAST_RATE_LIMIT = "60000"
BATCH_SIZE = 20
UNKNOWN_ID = 900_001
LISTED_IDS = [*range(1, 61), UNKNOWN_ID]

# Numbers that only the population file serves, inside error bodies and odd responses.
ERROR_BODY_NUMBER = "+14155550123"
ERROR_BODY_NATIONAL = "(415) 555-0124"
NOT_FOUND_BODY_NUMBER = "+16505550100"
HTML_BODY_NUMBER = "+16505550111"
# A phone number pasted into the id list by mistake: rejected, and listed only in the data dir.
ID_LIST_NUMBER = "+16505550177"
PLANTED_NUMBERS = [
    ERROR_BODY_NUMBER,
    ERROR_BODY_NATIONAL,
    NOT_FOUND_BODY_NUMBER,
    HTML_BODY_NUMBER,
    ID_LIST_NUMBER,
]


def _error_body(message: str, error_code: str) -> str:
    return json.dumps({"message": message, "success": False, "error_code": error_code})


POPULATION = [
    {"authy_id": 5, "fault": "500"},
    {"authy_id": 6, "faults": ["503_html"]},
    {"authy_id": 7, "fault": "drop"},
    {"authy_id": 8, "faults": ["malformed_json"]},
    {"authy_id": 9, "fault": "malformed_json"},
    {
        "authy_id": 10,
        "raw": {
            "status": 500,
            "body": _error_body(
                f"Internal error exporting {ERROR_BODY_NUMBER} or {ERROR_BODY_NATIONAL}", "60000"
            ),
        },
    },
    {
        "authy_id": 11,
        "raw": {
            "status": 200,
            "body": json.dumps(
                {
                    "phone_number": "555-0199 ext. 42",
                    "country_code": "1",
                    "e164": "+16505550198",
                    "updated_at": "2023-02-03T04:05:06Z",
                }
            ),
        },
    },
    {
        "authy_id": 12,
        "raw": {
            "status": 404,
            "body": _error_body(f"User {NOT_FOUND_BODY_NUMBER} not found.", "60026"),
        },
    },
    {
        "authy_id": 13,
        "raw": {
            "status": 200,
            "headers": {"Content-Type": "text/html"},
            "body": f"<html>Call {HTML_BODY_NUMBER}</html>",
        },
    },
    {"authy_id": 14, "exists": False},
    {
        "authy_id": 15,
        "faults": [
            {
                "status": 429,
                "headers": {"Retry-After": "1"},
                "body": _error_body("Too many requests", "60003"),
            }
        ],
    },
    {"authy_id": 16, "raw": {"status": 400, "body": _error_body("Invalid request", "60002")}},
]


@dataclass(frozen=True)
class LeakRun:
    """Commands run with one API key: their output and the directories they wrote."""

    api_key: str
    results: list[subprocess.CompletedProcess[str]]
    data_dir: Path
    dagster_home: Path

    def outputs(self) -> dict[str, str]:
        """Return the stdout and stderr of each command, by command and stream."""
        texts = {}
        for result in self.results:
            command = " ".join(Path(part).name for part in result.args[:3])
            texts[f"{command} stdout"] = result.stdout
            texts[f"{command} stderr"] = result.stderr
        return texts


@dataclass(frozen=True)
class LeakRuns:
    canary: LeakRun
    wrong_key: LeakRun


def _env(root: Path, emulator_url: str, api_key: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AUTHY_") and "proxy" not in name.lower()
    }
    home = root / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    ids_file = root / "authy_user_ids.csv"
    lines = [str(authy_id) for authy_id in LISTED_IDS] + [ID_LIST_NUMBER]
    ids_file.write_text("authy_id\n" + "".join(f"{line}\n" for line in lines))
    env.update(
        DAGSTER_HOME=str(home),
        DAGSTER_DISABLE_TELEMETRY="1",
        AUTHY_API_URL=emulator_url,
        AUTHY_API_KEY=api_key,
        AUTHY_USER_IDS=str(ids_file),
        AUTHY_DATA_DIR=str(root / "data"),
        AUTHY_BATCH_SIZE=str(BATCH_SIZE),
        AUTHY_RATE_LIMIT=FAST_RATE_LIMIT,
    )
    return env


def _run(root: Path, emulator_url: str, api_key: str) -> LeakRun:
    root.mkdir()
    env = _env(root, emulator_url, api_key)
    result = subprocess.run(
        [CLI, "run"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    return LeakRun(api_key, [result], root / "data", root / "dagster_home")


def _materialize_batch(run: LeakRun, emulator_url: str) -> subprocess.CompletedProcess[str]:
    """Materialize the first batch with `dagster asset materialize`, as the UI launches it."""
    root = run.data_dir.parent
    env = _env(root, emulator_url, run.api_key)
    command = [
        str(Path(sys.executable).parent / "dagster"),
        "asset",
        "materialize",
        "-m",
        "authy_assets.definitions",
        "--select",
        "authy_raw_responses",
        "--partition",
        "batch-000001",
    ]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def leak_runs(tmp_path_factory) -> Iterator[LeakRuns]:
    root = tmp_path_factory.mktemp("leaks")
    population_file = root / "population.jsonl"
    population_file.write_text("".join(json.dumps(entry) + "\n" for entry in POPULATION))
    config = EmulatorConfig(
        api_key=CANARY_KEY,
        latency="none",
        rate_limit=int(FAST_RATE_LIMIT),
        population_file=population_file,
    )
    with start_emulator(config) as emulator:
        canary = _run(root / "canary", emulator.url, CANARY_KEY)
        wrong_key = _run(root / "wrong_key", emulator.url, WRONG_CANARY_KEY)
        # `authy-assets run` stops before any batch run when the key is wrong, so one batch
        # is launched on its own to reach the fetch step's failure and its Dagster events. It
        # sends no request, because the ledger contains the 401 of the run before.
        wrong_key.results.append(_materialize_batch(wrong_key, emulator.url))
        rejected = emulator.stats()["requests_rejected_key"]
    # The users whose requests fail leave the run with failed users, not a failed run.
    (canary_result,) = canary.results
    assert canary_result.returncode == 0, canary.outputs()
    assert [result.returncode for result in wrong_key.results] == [1, 1], wrong_key.outputs()
    for result in wrong_key.results:
        assert "rejected the API key" in result.stderr
    assert rejected == 1
    yield LeakRuns(canary=canary, wrong_key=wrong_key)


def _key_forms(api_key: str) -> list[bytes]:
    """Return the key as bytes in every encoding that a leak could take."""
    raw = api_key.encode()
    forms = {raw, quote(api_key, safe="").encode(), quote_plus(api_key).encode()}
    forms.add(api_key.encode("utf-16-le"))
    forms.add(raw.hex().encode())
    # Base64 of text that contains the key depends on the key's offset modulo 3, so each
    # offset gets its own form, without the groups that the text around the key changes.
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + raw)
            start = 4 if offset else 0
            forms.add(encoded[start:-4])
    return sorted(forms)


def _parquet_text(path: Path) -> bytes:
    """Return a parquet file's schema, metadata and values as text, after decompression."""
    table = pq.read_table(path)
    return (repr(table.schema.metadata) + repr(table.to_pylist())).encode()


def _sqlite_text(path: Path) -> bytes:
    """Return the values of every table of a SQLite database as text."""
    parts = []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM sqlite_master")]
        for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            parts.append(repr(connection.execute(f'SELECT * FROM "{name}"').fetchall()))
    return (repr(names) + "".join(parts)).encode()


def _readable_contents(path: Path) -> list[bytes]:
    """Return the bytes of a file, plus its decoded values for parquet and SQLite files."""
    contents = [path.read_bytes()]
    if path.suffix == ".parquet":
        contents.append(_parquet_text(path))
    elif contents[0].startswith(b"SQLite format 3\0"):
        contents.append(_sqlite_text(path))
    return contents


def _files(*roots: Path) -> list[Path]:
    return sorted(path for root in roots for path in root.rglob("*") if path.is_file())


def _key_hits(api_key: str, roots: list[Path], texts: dict[str, str]) -> list[str]:
    """Return where any form of ``api_key`` occurs: file paths and names of ``texts``."""
    forms = _key_forms(api_key)
    hits = []
    for path in _files(*roots):
        for content in _readable_contents(path):
            hits.extend(f"{path} ({form!r})" for form in forms if form in content)
    for name, text in texts.items():
        content = text.encode()
        hits.extend(f"{name} ({form!r})" for form in forms if form in content)
    return hits


def _number_pattern(numbers: set[str]) -> re.Pattern[str]:
    """Match any of ``numbers`` whole: not inside a longer run of letters and digits.

    Hex run ids, ports and timestamps contain short digit runs by chance, so a national number
    shorter than MIN_SEARCHED_DIGITS is searched only as part of its E.164 form.
    """
    searched = _searched_numbers(numbers)
    alternatives = "|".join(re.escape(number) for number in sorted(searched, key=len, reverse=True))
    return re.compile(rf"(?<![0-9A-Za-z.])(?:{alternatives})(?![0-9A-Za-z])")


# A five-digit national number matched a hex run id in one run of this test.
MIN_SEARCHED_DIGITS = 7


def _searched_numbers(numbers: set[str]) -> set[str]:
    """Return the E.164 numbers and the national numbers of at least MIN_SEARCHED_DIGITS."""
    return {
        number
        for number in numbers
        if number.startswith("+") or sum(char.isdigit() for char in number) >= MIN_SEARCHED_DIGITS
    }


def _number_hits(pattern: re.Pattern[str], texts: dict[str, str]) -> list[str]:
    return [f"{name}: {match}" for name, text in texts.items() for match in pattern.findall(text)]


def _served_numbers(run: LeakRun) -> set[str]:
    export = pq.read_table(run.data_dir / "exports" / "authy_phone_numbers.parquet")
    numbers = set()
    for row in export.to_pylist():
        if row["status"] == "ok":
            numbers.add(row["e164"])
            numbers.add(row["phone_number"])
    return numbers


def _event_log_text(dagster_home: Path) -> dict[str, str]:
    """Return every event of every run, serialized, by run id."""
    texts = {}
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        for run in instance.get_runs():
            entries = instance.all_logs(run.run_id)
            texts[f"run {run.run_id} record"] = serialize_value(run)
            texts[f"run {run.run_id} events"] = "\n".join(serialize_value(e) for e in entries)
            texts[f"run {run.run_id} messages"] = "\n".join(e.user_message for e in entries)
    return texts


def _file_texts(root: Path) -> dict[str, str]:
    return {
        str(path): b"\n".join(_readable_contents(path)).decode("utf-8", errors="replace")
        for path in _files(root)
    }


def test_no_key_in_files_or_output(leak_runs):
    for run in (leak_runs.canary, leak_runs.wrong_key):
        texts = run.outputs()
        texts.update(_event_log_text(run.dagster_home))
        roots = [run.data_dir, run.dagster_home]
        for api_key in (CANARY_KEY, WRONG_CANARY_KEY):
            assert _key_hits(api_key, roots, texts) == []
    # The searched event log contains the failure of the batch run with the wrong key.
    wrong_key_events = "\n".join(_event_log_text(leak_runs.wrong_key.dagster_home).values())
    assert "rejected the API key" in wrong_key_events


def test_no_key_search_finds_planted_key(leak_runs, tmp_path):
    # The same search over files where the key was put on purpose, in each form a leak takes.
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "plain.log").write_text(f"key={CANARY_KEY}\n")
    (planted / "url.log").write_text(f"GET /?k=x{quote(CANARY_KEY, safe='')}&y=1\n")
    for offset in range(3):
        encoded = base64.b64encode(("a" * offset + f"key:{CANARY_KEY};").encode()).decode()
        (planted / f"base64_{offset}.log").write_text(encoded)
    table = pa.table({"header": [f"X-Authy-API-Key: {CANARY_KEY}"] * 50})
    pq.write_table(table, planted / "values.parquet", compression="zstd")
    with sqlite3.connect(planted / "events.sqlite3") as connection:
        connection.execute("CREATE TABLE events (body TEXT)")
        connection.execute("INSERT INTO events VALUES (?)", (CANARY_KEY,))

    hit_files = {hit.split(" (")[0] for hit in _key_hits(CANARY_KEY, [planted], {})}

    assert hit_files == {str(path) for path in _files(planted)}
    assert _key_hits(CANARY_KEY, [], {"stderr": f"Error: {CANARY_KEY}"}) != []


def test_no_number_in_output(leak_runs):
    numbers = _served_numbers(leak_runs.canary) | set(PLANTED_NUMBERS)
    pattern = _number_pattern(numbers)
    for run in (leak_runs.canary, leak_runs.wrong_key):
        assert _number_hits(pattern, run.outputs()) == []


def test_no_number_under_dagster_home(leak_runs):
    # Compute logs, run and event log storage, schedules: nothing in DAGSTER_HOME contains a number.
    numbers = _served_numbers(leak_runs.canary) | set(PLANTED_NUMBERS)
    pattern = _number_pattern(numbers)
    compute_logs = [
        path for path in _files(leak_runs.canary.dagster_home) if path.suffix in {".out", ".err"}
    ]

    assert any("server_error on attempt 1" in path.read_text() for path in compute_logs)
    assert _number_hits(pattern, _file_texts(leak_runs.canary.dagster_home)) == []


def test_no_number_in_event_log(leak_runs):
    numbers = _served_numbers(leak_runs.canary) | set(PLANTED_NUMBERS)
    pattern = _number_pattern(numbers)
    texts = _event_log_text(leak_runs.canary.dagster_home)

    assert _number_hits(pattern, texts) == []
    # The export's masked preview is in the event log, so the search reads its metadata.
    all_text = "\n".join(texts.values())
    assert mask_phone("+14445556666") in all_text
    assert "ok_rows_have_valid_e164" in all_text
    assert "server_error on attempt 1" in all_text


def test_number_search_finds_data_files(leak_runs):
    # The data directory contains every number by design: the ledger stores every body as it
    # arrived, so the search that found nothing elsewhere finds each served number here.
    data_dir = leak_runs.canary.data_dir
    served = _served_numbers(leak_runs.canary)
    assert "+14445556666" in served
    assert len(served) > 2 * 40

    ledger = data_dir / "state" / "authy_ledger.sqlite3"
    ledger_text = {"ledger": b"\n".join(_readable_contents(ledger)).decode(errors="replace")}
    found = set(_number_pattern(served | set(PLANTED_NUMBERS)).findall(ledger_text["ledger"]))
    assert found == _searched_numbers(served | set(PLANTED_NUMBERS)) - {ID_LIST_NUMBER}

    rejects = {"rejects": (data_dir / "state" / "authy_user_ids_rejected.csv").read_text()}
    assert _number_hits(_number_pattern({ID_LIST_NUMBER}), rejects) != []
