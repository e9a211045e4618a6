"""One batch through Dagster whose users get every kind of error the export endpoint returns.

The emulator serves each user's error from its population file, so the batch is the same on
every run. The client retries failures up to max_attempts_per_run (2) and sends no further
request to a user after a final response.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest

from authy_assets.emulator import EmulatorConfig, generate_user, start_emulator
from authy_assets_tests.conftest import API_KEY
from authy_assets_tests.pipeline import Project

SEED = 7
CHECKED_ASSET = dg.AssetKey("authy_phone_numbers")
MAX_ATTEMPTS_PER_RUN = 2
MONTHLY_QUOTA = 3

ITALIAN_USER = {
    "phone_number": "02 1234 5678",
    "country_code": "39",
    "e164": "+390212345678",
    "updated_at": "2022-01-01T00:00:00Z",
}
INVALID_PARAMETER_BODY = {
    "message": "Invalid parameter: authy_id",
    "success": False,
    "errors": {"message": "Invalid parameter: authy_id"},
    "error_code": "60004",
}
TOO_MANY_REQUESTS_BODY = {
    "message": "Too many requests",
    "success": False,
    "errors": {"message": "Too many requests"},
    "error_code": "60003",
}

OK = 1
NOT_FOUND = 900_001  # beyond the generated population
EXPORT_DISABLED = 3
API_ERROR = 4
ALWAYS_500 = 5
ALWAYS_503_HTML = 6
HTML_200 = 7
MALFORMED_JSON = 8
DROPPED = 9
SLOW = 10
ALWAYS_429 = 11
FAILS_ONCE = 12

POPULATION = [
    {"authy_id": EXPORT_DISABLED, **ITALIAN_USER, "export_disabled": True},
    {
        "authy_id": API_ERROR,
        "raw": {
            "status": 400,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(INVALID_PARAMETER_BODY),
        },
    },
    {"authy_id": ALWAYS_500, "fault": "500"},
    {"authy_id": ALWAYS_503_HTML, "fault": "503_html"},
    {
        "authy_id": HTML_200,
        "raw": {
            "status": 200,
            "headers": {"Content-Type": "text/html"},
            "body": "<html><body>Maintenance</body></html>",
        },
    },
    {"authy_id": MALFORMED_JSON, "fault": "malformed_json"},
    {"authy_id": DROPPED, "fault": "drop"},
    {"authy_id": SLOW, "fault": "slow"},
    {
        "authy_id": ALWAYS_429,
        "raw": {
            "status": 429,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(TOO_MANY_REQUESTS_BODY),
        },
    },
    {"authy_id": FAILS_ONCE, "faults": ["500"]},
]

# authy_id: (status, error_code, http_status) of the user's row, then the status of each
# request in the order sent.
EXPECTED: dict[int, tuple[tuple[str, str | None, int | None], list[str]]] = {
    OK: (("ok", None, 200), ["ok"]),
    NOT_FOUND: (("user_not_found", "60026", 404), ["user_not_found"]),
    EXPORT_DISABLED: (("export_disabled", "60154", 400), ["export_disabled"]),
    API_ERROR: (("api_error", "60004", 400), ["api_error"]),
    ALWAYS_500: (("server_error", "60000", 500), ["server_error"] * 2),
    ALWAYS_503_HTML: (("server_error", None, 503), ["server_error"] * 2),
    HTML_200: (("invalid_response", None, 200), ["invalid_response"] * 2),
    MALFORMED_JSON: (("invalid_response", None, 200), ["invalid_response"] * 2),
    DROPPED: (("connection_error", None, None), ["connection_error"] * 2),
    SLOW: (("timeout", None, None), ["timeout"] * 2),
    ALWAYS_429: (("rate_limited", "60003", 429), ["rate_limited"] * 2),
    FAILS_ONCE: (("ok", None, 200), ["server_error", "ok"]),
}


@dataclass(frozen=True)
class ErrorBatch:
    """The emulator's counters and the project after one materialization of the batch."""

    stats: dict[str, Any]
    project: Project
    batch_key: str
    result: dg.ExecuteInProcessResult


@pytest.fixture(scope="module")
def error_batch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ErrorBatch]:
    """Materialize the batch once. The tests below read the files and records it leaves."""
    tmp_path = tmp_path_factory.mktemp("error_kinds")
    population_path = tmp_path / "population.jsonl"
    population_path.write_text(
        "".join(json.dumps(line) + "\n" for line in POPULATION), encoding="utf-8"
    )
    ids_path = tmp_path / "authy_user_ids.csv"
    ids_path.write_text("authy_id\n" + "".join(f"{value}\n" for value in sorted(EXPECTED)))
    config = EmulatorConfig(
        api_key=API_KEY,
        latency="none",
        seed=SEED,
        population_size=20,
        export_disabled_share=0.0,
        population_file=population_path,
        slow_seconds=2.0,
    )
    with start_emulator(config) as emulator, dg.instance_for_test() as instance:
        project = Project(
            instance=instance,
            data_dir=tmp_path / "data",
            user_ids_path=ids_path,
            base_url=emulator.url,
            api_key=API_KEY,
            api_settings={"read_timeout_seconds": 0.5},
        )
        project.materialize_user_ids()
        (batch_key,) = project.batch_keys()
        result = project.materialize_batch(batch_key, raise_on_error=False)
        yield ErrorBatch(emulator.stats(), project, batch_key, result)


def stored_check(instance: dg.DagsterInstance, name: str) -> dg.AssetCheckEvaluation:
    record = instance.get_latest_asset_check_evaluation_record(
        dg.AssetCheckKey(CHECKED_ASSET, name)
    )
    assert record is not None, f"check {name} has no execution record in the instance"
    assert record.event is not None, f"check {name} has no evaluation event"
    evaluation = record.event.dagster_event.event_specific_data
    assert isinstance(evaluation, dg.AssetCheckEvaluation)
    return evaluation


def test_error_batch_run_succeeds(error_batch: ErrorBatch) -> None:
    assert error_batch.result.success
    assert error_batch.stats["requests_rejected_key"] == 0


def test_error_batch_one_row_per_user(error_batch: ErrorBatch) -> None:
    phones = error_batch.project.phones(error_batch.batch_key).to_pylist()
    rows_per_user = Counter(row["authy_id"] for row in phones)
    assert sorted(rows_per_user) == sorted(EXPECTED)
    assert set(rows_per_user.values()) == {1}

    rows = {row["authy_id"]: row for row in phones}
    for authy_id, (expected_row, _) in EXPECTED.items():
        row = rows[authy_id]
        assert (row["status"], row["error_code"], row["http_status"]) == expected_row, authy_id
    # The response to the retry decides the row, not the failure before it.
    assert rows[FAILS_ONCE]["e164"] == generate_user(SEED, FAILS_ONCE, 0.0).e164
    assert rows[OK]["e164"] == "+14445556666"


def test_error_batch_requests_per_user(error_batch: ErrorBatch) -> None:
    stats = error_batch.stats
    sent = {int(authy_id): count for authy_id, count in stats["requests_per_user"].items()}
    raw = sorted(
        error_batch.project.raw(error_batch.batch_key).to_pylist(),
        key=lambda row: (row["authy_id"], row["attempt"]),
    )
    assert len(raw) == stats["requests_total"]
    assert sorted(sent) == sorted(EXPECTED)

    for authy_id, (_, expected_requests) in EXPECTED.items():
        requests = [request for request in raw if request["authy_id"] == authy_id]
        assert [request["status"] for request in requests] == expected_requests, authy_id
        attempts = [request["attempt"] for request in requests]
        assert attempts == list(range(1, len(expected_requests) + 1)), authy_id
        assert sent[authy_id] == len(requests), authy_id
        assert sent[authy_id] <= MAX_ATTEMPTS_PER_RUN, authy_id
        assert sent[authy_id] <= MONTHLY_QUOTA, authy_id


def test_error_batch_check_results(error_batch: ErrorBatch) -> None:
    instance = error_batch.project.instance
    from_result = {
        evaluation.check_name: evaluation
        for evaluation in error_batch.result.get_asset_check_evaluations()
    }
    for name in ("export_disabled_users", "users_not_found", "one_row_per_user"):
        stored = stored_check(instance, name)
        assert stored.passed == from_result[name].passed, name
        assert stored.metadata == from_result[name].metadata, name
        # The check history of the UI lists every batch's results together.
        assert stored.metadata["batch"].value == error_batch.batch_key, name
        assert stored.description is not None, name
        assert stored.description.startswith(f"{error_batch.batch_key}: "), name

    disabled = stored_check(instance, "export_disabled_users")
    assert disabled.passed is False
    assert disabled.severity == dg.AssetCheckSeverity.WARN
    assert disabled.metadata["authy_ids"].value == [EXPORT_DISABLED]
    assert disabled.metadata["count"].value == 1

    not_found = stored_check(instance, "users_not_found")
    assert not_found.passed is False
    assert not_found.severity == dg.AssetCheckSeverity.WARN
    assert not_found.metadata["authy_ids"].value == [NOT_FOUND]
    assert not_found.metadata["count"].value == 1

    one_row = stored_check(instance, "one_row_per_user")
    assert one_row.passed is True
    assert one_row.metadata["users"].value == len(EXPECTED)
    assert one_row.metadata["rows"].value == len(EXPECTED)
