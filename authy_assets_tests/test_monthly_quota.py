"""No user is sent a fourth request in a calendar month, however many runs try.

The emulator returns 500 to every request for the user below, so no response is ever final
and every run sends requests again. The ledger, shared by every run and process, keeps the
total at the quota.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from authy_assets_tests.conftest import API_KEY
from authy_assets_tests.processes import start_batch_process, write_spec

ALWAYS_500 = 2
OK_USER = 1
MONTHLY_QUOTA = 3


def write_population(tmp_path: Path) -> Path:
    path = tmp_path / "population.jsonl"
    path.write_text(json.dumps({"authy_id": ALWAYS_500, "fault": "500"}) + "\n", encoding="utf-8")
    return path


def ledger_rows(project) -> list[tuple]:
    path = project.storage.state_dir / "authy_ledger.sqlite3"
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT authy_id, attempt, status, http_status, counted, run_id, requested_at,"
            " received_at FROM requests"
            " ORDER BY request_id"
        ).fetchall()


def user_status(project, batch_key: str, authy_id: int) -> str:
    rows = project.phones(batch_key).to_pylist()
    (row,) = [row for row in rows if row["authy_id"] == authy_id]
    return row["status"]


def test_three_runs_send_at_most_quota(start_authy_emulator, make_project, tmp_path):
    emulator = start_authy_emulator(
        population_size=10, export_disabled_share=0.0, population_file=write_population(tmp_path)
    )
    project = make_project(emulator.url, [OK_USER, ALWAYS_500])
    project.materialize_user_ids()
    (batch_key,) = project.batch_keys()

    statuses = []
    sent_after_run = []
    for _ in range(3):
        result = project.materialize_batch(batch_key)
        assert result.success
        statuses.append(user_status(project, batch_key, ALWAYS_500))
        sent_after_run.append(emulator.stats()["requests_per_user"].get(str(ALWAYS_500), 0))

    stats = emulator.stats()
    assert sent_after_run == [2, 3, 3]
    assert statuses == ["server_error", "quota_exhausted", "quota_exhausted"]
    assert stats["requests_per_user"][str(OK_USER)] == 1
    assert "429" not in stats["requests_per_status"]
    assert user_status(project, batch_key, OK_USER) == "ok"

    rows = [row for row in ledger_rows(project) if row[0] == ALWAYS_500]
    assert [row[1] for row in rows] == [1, 2, 3]
    assert all(row[2:5] == ("server_error", 500, 1) for row in rows)
    raw = [row for row in project.raw(batch_key).to_pylist() if row["authy_id"] == ALWAYS_500]
    assert [row["attempt"] for row in raw] == [1, 2, 3]


def test_two_processes_at_once_send_at_most_quota(
    start_authy_emulator, make_shared_project, dagster_home, tmp_path
):
    # Slow responses keep each process's fetch open long enough for the two to overlap.
    emulator = start_authy_emulator(
        population_size=10,
        export_disabled_share=0.0,
        population_file=write_population(tmp_path),
        latency="realistic",
        latency_median_ms=400.0,
    )
    project = make_shared_project(emulator.url, [ALWAYS_500])
    project.materialize_user_ids()
    (batch_key,) = project.batch_keys()
    spec = write_spec(project, tmp_path / "spec.json")

    logs = [tmp_path / f"run-{index}.log" for index in range(2)]
    processes = [
        start_batch_process(
            spec, batch_key, dagster_home=dagster_home, api_key=API_KEY, log_path=log
        )
        for log in logs
    ]
    exit_codes = [process.wait(timeout=120) for process in processes]

    assert exit_codes == [0, 0], [log.read_text()[-3000:] for log in logs]
    stats = emulator.stats()
    assert stats["requests_per_user"] == {str(ALWAYS_500): MONTHLY_QUOTA}
    assert "429" not in stats["requests_per_status"]
    rows = ledger_rows(project)
    assert [row[1] for row in rows] == [1, 2, 3]
    assert all(row[2:5] == ("server_error", 500, 1) for row in rows)
    # Each run sends at most max_attempts_per_run (2), so both runs spent part of the quota.
    assert len({row[5] for row in rows}) == 2

    result = project.materialize_batch(batch_key)

    assert result.success
    assert emulator.stats()["requests_per_user"] == {str(ALWAYS_500): MONTHLY_QUOTA}
    assert len(ledger_rows(project)) == MONTHLY_QUOTA
    assert user_status(project, batch_key, ALWAYS_500) == "quota_exhausted"
