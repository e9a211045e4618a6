"""Odd 200 responses for existing users, through Dagster and the emulator over a socket.

Each case is one user whose every request gets the case's body verbatim (a ``raw`` population
entry). The batch is materialized once, and each test compares one user's row in
``phones/<batch>.parquet`` with the row written out literally in CASES. The region, type,
possibility and validity values are libphonenumber's results for the E.164 text (phonenumbers
9.0.43), copied into the table by hand rather than computed by the code under test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

from authy_assets.emulator import EmulatorConfig, start_emulator
from authy_assets_tests.conftest import API_KEY
from authy_assets_tests.pipeline import Project

MISSING = object()  # marks a field that the body leaves out
FIRST_ID = 101
MAX_ATTEMPTS_PER_RUN = 2
MONTHLY_QUOTA = 3

BASE_BODY: dict[str, Any] = {
    "phone_number": "201-555-0123",
    "country_code": "1",
    "e164": "+12015550123",
    "updated_at": "2021-12-09T15:41:20Z",
}
BASE_UPDATED_AT = datetime(2021, 12, 9, 15, 41, 20, tzinfo=UTC)
PHONE_COLUMNS = ("phone_number", "country_code", "e164")
# Columns checked for containing every listed fragment, or for being null when none is listed.
PROBLEM_COLUMNS = ("problem", "validation_problem")


def body(**changes: Any) -> str:
    """Return BASE_BODY as JSON text, with ``changes`` applied and MISSING fields removed."""
    document = {**BASE_BODY, **changes}
    return json.dumps({name: value for name, value in document.items() if value is not MISSING})


def ok_row(**overrides: Any) -> dict[str, Any]:
    """Return the expected row for BASE_BODY, a valid US number, with ``overrides`` applied."""
    row: dict[str, Any] = {
        "status": "ok",
        "http_status": 200,
        "error_code": None,
        "phone_number": "201-555-0123",
        "country_code": "1",
        "e164": "+12015550123",
        "updated_at": BASE_UPDATED_AT,
        "e164_well_formed": True,
        "e164_consistent": True,
        "region_code": "US",
        "number_type": "FIXED_LINE_OR_MOBILE",
        "is_possible": True,
        "is_valid": True,
        "has_extension": False,
        "validation_problem": (),
        "problem": (),
    }
    row.update(overrides)
    return row


def invalid_row(*problem: str) -> dict[str, Any]:
    """Return the expected row of a 200 response that cannot be read: no phone columns."""
    row = dict.fromkeys(ok_row(), None)
    row.update(
        status="invalid_response",
        http_status=200,
        validation_problem=(),
        problem=problem,
    )
    return row


# The e164 text is not E.164, so libphonenumber is not asked and every check is false.
NOT_WELL_FORMED = {
    "e164_well_formed": False,
    "region_code": None,
    "number_type": None,
    "is_possible": False,
    "is_valid": False,
}


@dataclass(frozen=True)
class Case:
    name: str
    body: str
    expected: dict[str, Any]


CASES = [
    Case("documented shape", body(), ok_row()),
    Case(
        "missing phone_number",
        body(phone_number=MISSING),
        invalid_row("phone_number is missing"),
    ),
    Case(
        "missing country_code",
        body(country_code=MISSING),
        invalid_row("country_code is missing"),
    ),
    Case("missing e164", body(e164=MISSING), invalid_row("e164 is missing")),
    Case(
        "missing updated_at",
        body(updated_at=MISSING),
        ok_row(updated_at=None, problem=("updated_at is missing",)),
    ),
    Case(
        "extra fields",
        body(success=True, message="Phone number found", device={"os": "iOS"}, carrier=None),
        ok_row(),
    ),
    Case("success false", body(success=False), invalid_row("success false")),
    Case(
        "parts as json ints",
        body(phone_number=4445556666, country_code=1, e164="+14445556666"),
        ok_row(
            phone_number="4445556666",
            e164="+14445556666",
            region_code=None,
            number_type="UNKNOWN",
            is_valid=False,
            validation_problem=("not a valid number",),
            problem=(
                "phone_number was sent as a JSON number",
                "country_code was sent as a JSON number",
            ),
        ),
    ),
    Case(
        "e164 as json int",
        body(e164=12015550123),
        ok_row(
            e164="12015550123",
            e164_consistent=False,
            **NOT_WELL_FORMED,
            validation_problem=("e164 is not well formed", "disagrees"),
            problem=("e164 was sent as a JSON number",),
        ),
    ),
    Case(
        "huge json int",
        body(phone_number=123456789012345678901234567890, e164=98765432109876543210987),
        ok_row(
            phone_number="123456789012345678901234567890",
            e164="98765432109876543210987",
            e164_consistent=False,
            **NOT_WELL_FORMED,
            validation_problem=("e164 is not well formed", "cannot be parsed"),
            problem=("phone_number was sent", "e164 was sent as a JSON number"),
        ),
    ),
    Case(
        "e164 disagrees with parts",
        body(e164="+12015550124"),
        ok_row(e164="+12015550124", e164_consistent=False, validation_problem=("disagrees",)),
    ),
    Case(
        "extension without area code",
        body(phone_number="555-1234 ext. 12", e164="+15551234"),
        ok_row(
            phone_number="555-1234 ext. 12",
            e164="+15551234",
            region_code=None,
            number_type="UNKNOWN",
            is_valid=False,
            has_extension=True,
            validation_problem=("extension", "not a valid number"),
        ),
    ),
    Case(
        "extension with area code",
        body(phone_number="201-555-1234 ext. 12", e164="+12015551234"),
        ok_row(
            phone_number="201-555-1234 ext. 12",
            e164="+12015551234",
            has_extension=True,
            validation_problem=("extension",),
        ),
    ),
    Case(
        "canada",
        body(phone_number="416-555-0123", e164="+14165550123"),
        ok_row(phone_number="416-555-0123", e164="+14165550123", region_code="CA"),
    ),
    Case(
        "jamaica",
        body(phone_number="876-210-1234", e164="+18762101234"),
        ok_row(
            phone_number="876-210-1234",
            e164="+18762101234",
            region_code="JM",
            number_type="MOBILE",
        ),
    ),
    Case(
        "kazakhstan",
        body(phone_number="701 123 4567", country_code="7", e164="+77011234567"),
        ok_row(
            phone_number="701 123 4567",
            country_code="7",
            e164="+77011234567",
            region_code="KZ",
            number_type="MOBILE",
        ),
    ),
    Case(
        "russia",
        body(phone_number="912 345-67-89", country_code="7", e164="+79123456789"),
        ok_row(
            phone_number="912 345-67-89",
            country_code="7",
            e164="+79123456789",
            region_code="RU",
            number_type="MOBILE",
        ),
    ),
    Case(
        "russia with trunk prefix 8",
        body(phone_number="8 912 345-67-89", country_code="7", e164="+79123456789"),
        ok_row(
            phone_number="8 912 345-67-89",
            country_code="7",
            e164="+79123456789",
            region_code="RU",
            number_type="MOBILE",
        ),
    ),
    Case(
        "italy leading zero",
        body(phone_number="02 1234 5678", country_code="39", e164="+390212345678"),
        ok_row(
            phone_number="02 1234 5678",
            country_code="39",
            e164="+390212345678",
            region_code="IT",
            number_type="FIXED_LINE",
        ),
    ),
    Case(
        "italy e164 lost its zero",
        body(phone_number="02 1234 5678", country_code="39", e164="+39212345678"),
        ok_row(
            phone_number="02 1234 5678",
            country_code="39",
            e164="+39212345678",
            e164_consistent=False,
            region_code=None,
            number_type="UNKNOWN",
            is_valid=False,
            validation_problem=("disagrees", "not a valid number"),
        ),
    ),
    Case(
        "possible but not valid",
        body(phone_number="444-555-6666", e164="+14445556666"),
        ok_row(
            phone_number="444-555-6666",
            e164="+14445556666",
            region_code=None,
            number_type="UNKNOWN",
            is_valid=False,
            validation_problem=("not a valid number",),
        ),
    ),
    Case("updated_at with offset", body(updated_at="2021-12-09T17:41:20+02:00"), ok_row()),
    Case(
        "updated_at with fraction",
        body(updated_at="2021-12-09T15:41:20.250Z"),
        ok_row(updated_at=BASE_UPDATED_AT + timedelta(milliseconds=250)),
    ),
    Case(
        "updated_at without seconds",
        body(updated_at="2021-12-09T15:41Z"),
        ok_row(updated_at=BASE_UPDATED_AT.replace(second=0)),
    ),
    Case(
        "updated_at epoch json number",
        body(updated_at=1639064480),
        ok_row(problem=("updated_at was sent as a JSON number",)),
    ),
    Case("updated_at epoch string", body(updated_at="1639064480"), ok_row()),
    Case(
        "updated_at date only",
        body(updated_at="2021-12-09"),
        ok_row(updated_at=datetime(2021, 12, 9, tzinfo=UTC), problem=("no time zone",)),
    ),
    Case(
        "updated_at garbage",
        body(updated_at="last tuesday"),
        ok_row(updated_at=None, problem=("not an ISO-8601 timestamp",)),
    ),
    Case(
        "updated_at null",
        body(updated_at=None),
        ok_row(updated_at=None, problem=("updated_at is missing",)),
    ),
    Case(
        "updated_at empty string",
        body(updated_at=""),
        ok_row(updated_at=None, problem=("not an ISO-8601 timestamp",)),
    ),
    Case(
        "e164 without plus",
        body(e164="12015550123"),
        ok_row(
            e164="12015550123",
            e164_consistent=False,
            **NOT_WELL_FORMED,
            validation_problem=("e164 is not well formed",),
        ),
    ),
    Case(
        "whitespace around values",
        body(
            phone_number=" 201-555-0123 ",
            country_code=" 1 ",
            e164=" +12015550123 ",
            updated_at=" 2021-12-09T15:41:20Z ",
        ),
        # Twilio Verify rejects e164 with spaces, so the row is flagged, and nothing is trimmed.
        ok_row(
            phone_number=" 201-555-0123 ",
            country_code=" 1 ",
            e164=" +12015550123 ",
            e164_consistent=False,
            **NOT_WELL_FORMED,
            validation_problem=("e164 is not well formed",),
        ),
    ),
    Case(
        "country_code with plus",
        body(country_code="+1"),
        ok_row(country_code="+1"),
    ),
    Case(
        "empty phone_number",
        body(phone_number=""),
        ok_row(
            phone_number="",
            e164_consistent=False,
            validation_problem=("phone_number cannot be parsed",),
        ),
    ),
    Case(
        "empty country_code",
        body(country_code=""),
        ok_row(
            country_code="",
            e164_consistent=False,
            validation_problem=("country_code is not a calling code",),
        ),
    ),
    Case(
        "empty e164",
        body(e164=""),
        ok_row(
            e164="",
            e164_consistent=False,
            **NOT_WELL_FORMED,
            validation_problem=("e164 is not well formed",),
        ),
    ),
]
CASE_IDS = {case.name: FIRST_ID + index for index, case in enumerate(CASES)}


@dataclass(frozen=True)
class OddBatch:
    """The batch's rows by authy_id, the table they came from, and the emulator's counters."""

    rows: dict[int, dict[str, Any]]
    table: pa.Table
    row_count: int
    stats: dict[str, Any]
    result: dg.ExecuteInProcessResult


@pytest.fixture(scope="module")
def odd_batch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OddBatch]:
    tmp_path = tmp_path_factory.mktemp("odd_answers")
    population = tmp_path / "population.jsonl"
    lines = [
        {
            "authy_id": CASE_IDS[case.name],
            "raw": {
                "status": 200,
                "headers": {"Content-Type": "application/json"},
                "body": case.body,
            },
        }
        for case in CASES
    ]
    population.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    ids_path = tmp_path / "authy_user_ids.csv"
    ids_path.write_text("authy_id\n" + "".join(f"{value}\n" for value in CASE_IDS.values()))
    config = EmulatorConfig(
        api_key=API_KEY, latency="none", population_size=10, population_file=population
    )
    with start_emulator(config) as emulator, dg.instance_for_test() as instance:
        project = Project(
            instance=instance,
            data_dir=tmp_path / "data",
            user_ids_path=ids_path,
            base_url=emulator.url,
            api_key=API_KEY,
        )
        project.materialize_user_ids()
        (batch_key,) = project.batch_keys()
        result = project.materialize_batch(batch_key, raise_on_error=False)
        table = project.phones(batch_key)
        rows = {row["authy_id"]: row for row in table.to_pylist()}
        yield OddBatch(rows, table, table.num_rows, emulator.stats(), result)


def test_odd_batch_run_succeeds(odd_batch: OddBatch) -> None:
    assert odd_batch.result.success


def test_odd_batch_one_row_per_user(odd_batch: OddBatch) -> None:
    assert odd_batch.row_count == len(CASES)
    assert sorted(odd_batch.rows) == sorted(CASE_IDS.values())


def test_odd_batch_phone_columns_are_strings(odd_batch: OddBatch) -> None:
    for name in PHONE_COLUMNS:
        assert odd_batch.table.schema.field(name).type == pa.string(), name


def test_odd_batch_requests_within_quota(odd_batch: OddBatch) -> None:
    sent = odd_batch.stats["requests_per_user"]
    for case in CASES:
        authy_id = CASE_IDS[case.name]
        # An unreadable response is retried once in the run, and a readable one is final.
        expected = 1 if case.expected["status"] == "ok" else MAX_ATTEMPTS_PER_RUN
        assert sent[str(authy_id)] == expected, case.name
        assert sent[str(authy_id)] <= MONTHLY_QUOTA, case.name


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_odd_response_row(odd_batch: OddBatch, case: Case) -> None:
    row = odd_batch.rows[CASE_IDS[case.name]]

    assert row["batch_key"] is not None
    assert row["fetched_at"] is not None
    for column, expected in case.expected.items():
        actual = row[column]
        if column in PROBLEM_COLUMNS:
            if not expected:
                assert actual is None, (column, actual)
            else:
                assert actual is not None, column
                for fragment in expected:
                    assert fragment in actual, (column, actual)
        else:
            assert actual == expected, (column, actual)
            assert type(actual) is type(expected), (column, type(actual))
    for column in PHONE_COLUMNS:
        assert row[column] is None or isinstance(row[column], str), column
