"""Batch runs killed with SIGKILL again and again end with the export of an uninterrupted run.

Each batch run is a child process on a shared Dagster instance, killed after a random number of
requests drawn from a seeded generator and then started again, until every batch completes. An
uninterrupted run of the same id list against a second emulator with the same seed and
population, in another data directory, gives the export to compare with.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from authy_assets.emulator import RunningEmulator
from authy_assets.phones import FINAL_STATUSES
from authy_assets_tests.conftest import API_KEY
from authy_assets_tests.pipeline import Project
from authy_assets_tests.processes import start_batch_process, write_spec

SEED = 20240611
KILLS = 4
# Users 1..POPULATION exist and a seeded 5 % of them have export disabled. The ids above
# POPULATION get "user not found". No fault is injected, so every user ends with a final
# status and both runs produce the same rows.
POPULATION = 290
AUTHY_IDS = list(range(1, 301))
BATCH_SIZE = 150
# The client spaces requests 20 ms apart. The emulator responds after about 60 ms (at most
# 667 ms, the cap of its latency shape), so each kill finds a few requests without a response.
CLIENT_RATE_LIMIT = 3000
LATENCY_MEDIAN_MS = 60.0
# Each run is killed after this many new requests. A run resends first the requests that the
# previous kill left without a response, because those users come first in id order. At 20 ms
# apart, 40 requests take at least 0.8 s, longer than the 667 ms latency cap, so those responses
# arrive before the next kill and no user loses all three requests of the monthly quota.
KILL_AFTER_REQUESTS = range(40, 71)
# The only column allowed to differ: it records when the deciding response arrived.
TIME_COLUMNS = ["fetched_at"]
EXPECTED_STATUSES = {"ok", "export_disabled", "user_not_found"}
PROCESS_TIMEOUT_SECONDS = 120.0


def _ledger_rows(data_dir: Path) -> dict[int, dict]:
    """Return every column of every request in the ledger, by request_id."""
    path = data_dir / "state" / "authy_ledger.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute("SELECT * FROM requests ORDER BY request_id").fetchall()
    return {row["request_id"]: dict(row) for row in rows}


def _ledger_counts(rows: dict[int, dict]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for row in rows.values():
        counts[row["authy_id"]] = counts.get(row["authy_id"], 0) + 1
    return counts


def _integrity(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        return connection.execute("PRAGMA integrity_check").fetchall()


def _check_state(data_dir: Path, emulator, moment: str) -> None:
    """Assert that the databases are intact, the stored files readable and the quota kept."""
    state_dir = data_dir / "state"
    for name in ("authy_ledger.sqlite3", "authy_rate_limiter.sqlite3", "authy_batches.sqlite3"):
        path = state_dir / name
        if path.exists():
            assert _integrity(path) == [("ok",)], f"{name} is damaged {moment}"

    for folder in ("raw", "phones"):
        for path in sorted((data_dir / folder).glob("*.parquet")):
            table = pq.read_table(path)
            assert table.num_rows > 0, f"{path} is empty {moment}"

    sent = emulator.stats()["requests_per_user"]
    recorded = _ledger_counts(_ledger_rows(data_dir))
    for authy_id, count in sent.items():
        assert count <= 3, f"user {authy_id} was sent {count} requests {moment}"
        assert recorded.get(int(authy_id), 0) >= count, (
            f"user {authy_id}: the emulator saw {count} requests, the ledger has"
            f" {recorded.get(int(authy_id), 0)} {moment}"
        )


def _wait_for_new_requests(emulator, target: int, process: subprocess.Popen) -> bool:
    """Wait until the emulator has seen ``target`` requests; False if the run ended first."""
    deadline = time.monotonic() + PROCESS_TIMEOUT_SECONDS
    while emulator.stats()["requests_total"] < target:
        if process.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the batch run sent too few requests in time"
        time.sleep(0.01)
    return True


def _run_uninterrupted(emulator_url: str, ids_file: Path, data_dir: Path, api_settings) -> Path:
    with dg.DagsterInstance.ephemeral() as instance:
        project = Project(
            instance=instance,
            data_dir=data_dir,
            user_ids_path=ids_file,
            base_url=emulator_url,
            api_key=API_KEY,
            batch_size=BATCH_SIZE,
            api_settings=api_settings,
        )
        project.run_all()
        return project.storage.export_file


@dataclass
class KillSequence:
    """Batch runs in child processes, each killed after its share of new requests."""

    project: Project
    emulator: RunningEmulator
    spec: Path
    dagster_home: Path
    log_path: Path
    pending_kills: list[int]
    kills_done: int = 0
    kills_with_open_request: int = 0
    # Every ledger row as it was after the latest kill.
    stored: dict[int, dict] = field(default_factory=dict)

    def run_batch(self, batch_key: str) -> None:
        """Start the batch run again after each kill until it completes."""
        while not self._run_once(batch_key):
            pass

    def _run_once(self, batch_key: str) -> bool:
        """Run the batch once; return True if it completed, False if it was killed."""
        process = start_batch_process(
            self.spec,
            batch_key,
            dagster_home=self.dagster_home,
            api_key=API_KEY,
            log_path=self.log_path,
        )
        try:
            if self.pending_kills:
                target = self.emulator.stats()["requests_total"] + self.pending_kills[0]
                if _wait_for_new_requests(self.emulator, target, process):
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    self.pending_kills.pop(0)
                    self._check_kill(batch_key, target)
                    return False
            returncode = process.wait(timeout=PROCESS_TIMEOUT_SECONDS)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log = self.log_path.read_text(errors="replace")
        assert returncode == 0, f"the run of {batch_key} failed:\n{log[-4000:]}"
        return True

    def _check_kill(self, batch_key: str, target: int) -> None:
        self.kills_done += 1
        number = self.kills_done
        print(f"kill {number}: {batch_key} at {target} requests in total")
        _check_state(self.project.data_dir, self.emulator, f"after kill {number}")

        rows = _ledger_rows(self.project.data_dir)
        for request_id, row in self.stored.items():
            assert rows.get(request_id) == row, (
                f"request {request_id} changed or was lost by kill {number}"
            )
        new_rows = [row for request_id, row in rows.items() if request_id not in self.stored]
        open_requests = sum(1 for row in new_rows if row["status"] is None)
        print(f"kill {number}: {len(new_rows)} new requests, {open_requests} without a response")
        if open_requests:
            self.kills_with_open_request += 1
        self.stored = rows


def test_repeated_kills_match_uninterrupted_run(
    start_authy_emulator, make_shared_project, dagster_home, tmp_path
):
    rng = random.Random(SEED)
    kill_after = [rng.choice(KILL_AFTER_REQUESTS) for _ in range(KILLS)]
    print(f"seed {SEED}: kill each run after {kill_after} new requests")

    population = {"seed": SEED, "population_size": POPULATION, "rate_limit": 60000}
    emulator = start_authy_emulator(
        **population, latency="realistic", latency_median_ms=LATENCY_MEDIAN_MS
    )
    api_settings = {"rate_limit": CLIENT_RATE_LIMIT}
    project = make_shared_project(emulator.url, AUTHY_IDS, **api_settings)
    project.batch_size = BATCH_SIZE
    project.materialize_user_ids()
    batch_keys = project.batch_keys()
    assert len(batch_keys) == 2

    kills = KillSequence(
        project=project,
        emulator=emulator,
        spec=write_spec(project, tmp_path / "spec.json"),
        dagster_home=dagster_home,
        log_path=tmp_path / "run.log",
        pending_kills=list(kill_after),
    )
    for batch_key in batch_keys:
        kills.run_batch(batch_key)

    assert kills.kills_done == KILLS, f"the batches completed before {kills.pending_kills} landed"
    # With about three requests in flight at any moment of a fetch, a kill that leaves none
    # without a response would mean the kills landed outside the fetches.
    assert kills.kills_with_open_request > 0, "no kill left a request without a response"
    stored = kills.stored

    project.materialize_export()

    ledger = _ledger_rows(project.data_dir)
    for request_id, row in stored.items():
        assert ledger.get(request_id) == row, f"request {request_id} changed after the last kill"
    newest: dict[int, dict] = {}
    for row in ledger.values():
        newest[row["authy_id"]] = row
    for row in stored.values():
        if row["status"] in FINAL_STATUSES:
            assert newest[row["authy_id"]] == row, (
                f"user {row['authy_id']} had a final response and was asked again"
            )
    _check_state(project.data_dir, emulator, "after the last run")
    assert sorted(int(authy_id) for authy_id in emulator.stats()["requests_per_user"]) == AUTHY_IDS

    baseline_emulator = start_authy_emulator(**population)
    baseline_export = _run_uninterrupted(
        baseline_emulator.url,
        project.user_ids_path,
        tmp_path / "uninterrupted" / "data",
        api_settings,
    )
    killed = pq.read_table(project.storage.export_file)
    uninterrupted = pq.read_table(baseline_export)

    assert killed.schema == uninterrupted.schema
    assert killed.num_rows == len(AUTHY_IDS)
    assert uninterrupted.num_rows == len(AUTHY_IDS)
    for name in TIME_COLUMNS:
        assert killed.column(name).null_count == 0
        assert uninterrupted.column(name).null_count == 0
    statuses = set(killed.column("status").to_pylist())
    assert statuses == EXPECTED_STATUSES, statuses

    killed_rows = killed.drop_columns(TIME_COLUMNS).to_pylist()
    uninterrupted_rows = uninterrupted.drop_columns(TIME_COLUMNS).to_pylist()
    for killed_row, uninterrupted_row in zip(killed_rows, uninterrupted_rows, strict=True):
        assert killed_row == uninterrupted_row, f"rows of user {killed_row['authy_id']} differ"
