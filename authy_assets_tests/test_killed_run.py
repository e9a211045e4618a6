"""A batch run killed with SIGKILL loses nothing and spends no request twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

from authy_assets.phones import FINAL_STATUSES
from authy_assets_tests.conftest import API_KEY
from authy_assets_tests.processes import start_batch_process, write_spec

USERS = 150


def _ledger(project) -> list[tuple]:
    path = project.storage.state_dir / "authy_ledger.sqlite3"
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT request_id, authy_id, attempt, status, http_status, body FROM requests"
            " ORDER BY request_id"
        ).fetchall()


def _wait_for_requests(emulator, count: int, process) -> None:
    deadline = time.monotonic() + 120
    while emulator.stats()["requests_total"] < count:
        assert process.poll() is None, "the batch run ended before it could be killed"
        assert time.monotonic() < deadline, "the batch run sent too few requests"
        time.sleep(0.02)


def test_killed_batch_run_resumes_without_loss(
    start_authy_emulator, make_shared_project, dagster_home, tmp_path
):
    emulator = start_authy_emulator(population_size=USERS, latency_median_ms=40.0, latency="realistic")
    project = make_shared_project(emulator.url, list(range(1, USERS + 1)), rate_limit=6000)
    project.batch_size = USERS
    project.materialize_user_ids()
    (batch_key,) = project.batch_keys()
    spec = write_spec(project, tmp_path / "spec.json")

    for kill_after in (20, 70):
        process = start_batch_process(
            spec, batch_key, dagster_home=dagster_home, api_key=API_KEY, log_path=tmp_path / "run.log"
        )
        _wait_for_requests(emulator, kill_after, process)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

        before_rerun = _ledger(project)
        answered = [row for row in before_rerun if row[3] is not None]
        assert answered, "no answer was stored before the kill"

        sent = emulator.stats()["requests_per_user"]
        recorded: dict[int, int] = {}
        for row in before_rerun:
            recorded[row[1]] = recorded.get(row[1], 0) + 1
        for authy_id, count in sent.items():
            assert recorded.get(int(authy_id), 0) >= count, f"user {authy_id} sent but not recorded"

    project.materialize_batch(batch_key)

    ledger_after = _ledger(project)
    after = {row[0]: row for row in ledger_after}
    for row in answered:
        assert after[row[0]] == row, f"stored answer {row[0]} changed or was lost"

    # A user with a final response before the rerun was not requested again: that response is
    # still the user's newest request, and the emulator saw no more requests than the ledger.
    newest: dict[int, int] = {}
    recorded = {}
    for row in ledger_after:
        newest[row[1]] = row[0]
        recorded[row[1]] = recorded.get(row[1], 0) + 1
    sent = emulator.stats()["requests_per_user"]
    for row in answered:
        if row[3] in FINAL_STATUSES:
            assert newest[row[1]] == row[0], f"user {row[1]} had an answer and was asked again"
    for authy_id, count in sent.items():
        assert count <= recorded[int(authy_id)], f"user {authy_id} sent but not recorded"
    assert max(sent.values()) <= 3

    phones = project.phones(batch_key)
    assert phones.num_rows == USERS
    assert set(phones.column("status").to_pylist()) <= {"ok", "export_disabled"}
