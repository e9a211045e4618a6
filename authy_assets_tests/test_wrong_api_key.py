"""A wrong API key fails the run after one request and spends no user's monthly quota."""

from __future__ import annotations

import json
import sqlite3

from dagster._serdes import serialize_value

from authy_assets_tests.conftest import API_KEY

WRONG_KEY = "WRONGKEY-8d1e55a0c7f2-authy-assets-do-not-leak"
ALWAYS_500 = 2
MONTHLY_QUOTA = 3


def ledger_rows(project) -> list[tuple]:
    path = project.storage.state_dir / "authy_ledger.sqlite3"
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT authy_id, attempt, status, http_status, error_code, counted FROM requests"
            " ORDER BY request_id"
        ).fetchall()


def test_wrong_key_fails_run_without_quota(start_authy_emulator, make_project, tmp_path):
    population = tmp_path / "population.jsonl"
    population.write_text(json.dumps({"authy_id": ALWAYS_500, "fault": "500"}) + "\n")
    emulator = start_authy_emulator(
        population_size=10, export_disabled_share=0.0, population_file=population
    )
    # Three attempts per run, so the run with the right key can spend the whole quota.
    project = make_project(emulator.url, [ALWAYS_500, 3, 4], max_attempts_per_run=MONTHLY_QUOTA)
    project.materialize_user_ids()
    (batch_key,) = project.batch_keys()

    project.api_key = WRONG_KEY
    failed = project.materialize_batch(batch_key, raise_on_error=False)

    assert not failed.success
    (failure,) = failed.get_step_failure_events()
    assert failure.step_key == "authy_raw_responses"
    error = failure.step_failure_data.error
    assert error is not None
    assert error.cause is not None
    assert error.cause.cls_name == "AuthyUnauthorizedError"
    message = error.cause.message
    assert "AUTHY_API_KEY" in message
    assert "401" in message
    assert "60001" in message
    run_events = project.instance.all_logs(failed.run_id)
    assert run_events
    for event in run_events:
        assert WRONG_KEY not in serialize_value(event)
        assert API_KEY not in serialize_value(event)

    stats = emulator.stats()
    assert stats["requests_rejected_key"] == 1
    assert stats["requests_per_status"] == {"401": 1}
    assert stats["requests_total"] == 0
    assert ledger_rows(project) == [(ALWAYS_500, 1, "unauthorized", 401, "60001", 0)]
    assert not project.storage.raw_file(batch_key).exists()
    for path in project.data_dir.rglob("*"):
        if path.is_file():
            assert WRONG_KEY.encode() not in path.read_bytes(), path

    project.api_key = API_KEY
    fixed = project.materialize_batch(batch_key)

    assert fixed.success
    stats = emulator.stats()
    assert stats["requests_per_user"] == {str(ALWAYS_500): MONTHLY_QUOTA, "3": 1, "4": 1}
    assert stats["requests_rejected_key"] == 1
    rows = [row for row in ledger_rows(project) if row[0] == ALWAYS_500]
    assert [row[1] for row in rows] == [1, 1, 2, 3]
    assert [row[5] for row in rows] == [0, 1, 1, 1]
    phones = {row["authy_id"]: row for row in project.phones(batch_key).to_pylist()}
    assert phones[ALWAYS_500]["status"] == "quota_exhausted"
    assert phones[3]["status"] == "ok"
    assert phones[4]["status"] == "ok"


def test_wrong_key_second_batch_sends_nothing(start_authy_emulator, make_project):
    # A backfill from the UI starts one run a batch. Only the first may spend a request on a
    # key that the API has just rejected.
    emulator = start_authy_emulator(population_size=30, export_disabled_share=0.0)
    project = make_project(emulator.url, list(range(1, 31)))
    project.batch_size = 10
    project.materialize_user_ids()
    first_batch, second_batch, _ = project.batch_keys()
    project.api_key = WRONG_KEY

    first = project.materialize_batch(first_batch, raise_on_error=False)
    second = project.materialize_batch(second_batch, raise_on_error=False)

    assert not first.success
    assert not second.success
    (failure,) = second.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None
    assert error.cause is not None
    assert error.cause.cls_name == "AuthyUnauthorizedError"
    assert "no request was sent" in error.cause.message
    assert "AUTHY_API_KEY" in error.cause.message
    assert WRONG_KEY not in error.cause.message
    stats = emulator.stats()
    assert stats["requests_rejected_key"] == 1
    assert stats["requests_per_status"] == {"401": 1}

    project.api_key = API_KEY
    fixed = project.materialize_batch(second_batch)

    assert fixed.success
    assert emulator.stats()["requests_per_status"] == {"401": 1, "200": 10}


def test_wrong_url_does_not_block_corrected_url(start_authy_emulator, make_project):
    # The key is right, but the first URL points at an API that does not know it. The
    # rejection belongs to that URL, so the corrected URL is tried at once.
    other_app = start_authy_emulator(api_key="another-app-key", population_size=10)
    emulator = start_authy_emulator(population_size=10, export_disabled_share=0.0)
    project = make_project(other_app.url, list(range(1, 11)))
    project.materialize_user_ids()
    (batch_key,) = project.batch_keys()

    rejected = project.materialize_batch(batch_key, raise_on_error=False)
    project.base_url = emulator.url
    fixed = project.materialize_batch(batch_key)

    assert not rejected.success
    assert other_app.stats()["requests_rejected_key"] == 1
    assert fixed.success
    assert emulator.stats()["requests_per_status"] == {"200": 10}
