"""Tests of response classification, phone validation, phone rows and table schemas."""

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authy_assets.phones import (
    FINAL_STATUSES,
    PHONE_ROW_COLUMNS,
    RETRYABLE_STATUSES,
    ExportStatus,
    build_phone_row,
    classify_response,
    parse_updated_at,
    validate_phone,
)
from authy_assets.schema import (
    PHONE_NUMBERS_SCHEMA,
    RAW_RESPONSES_SCHEMA,
    TIMESTAMP_TYPE,
    column_schema_metadata,
    table_from_rows,
)

DOCUMENTED_BODY = json.dumps(
    {
        "phone_number": "444-555-6666",
        "country_code": "1",
        "e164": "+14445556666",
        "updated_at": "2021-12-09T15:41:20Z",
    }
)
FETCHED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def error_body(code: object, message: str = "Something failed.") -> str:
    return json.dumps(
        {
            "message": message,
            "success": False,
            "errors": {"message": message},
            "error_code": code,
        }
    )


# --- statuses ---------------------------------------------------------------


def test_statuses_partition_into_final_and_retryable() -> None:
    assert FINAL_STATUSES.isdisjoint(RETRYABLE_STATUSES)
    assert FINAL_STATUSES | RETRYABLE_STATUSES == set(ExportStatus)
    assert ExportStatus.unauthorized in RETRYABLE_STATUSES
    assert ExportStatus.no_answer in RETRYABLE_STATUSES
    assert ExportStatus.api_error in FINAL_STATUSES
    assert ExportStatus.not_requested in RETRYABLE_STATUSES


def test_statuses_match_plain_strings() -> None:
    # Ledger rows and Parquet files return statuses as plain strings.
    assert "ok" in FINAL_STATUSES
    assert "user_not_found" in FINAL_STATUSES
    assert "timeout" in RETRYABLE_STATUSES
    assert "timeout" not in FINAL_STATUSES
    for status in ExportStatus:
        assert status.name == status.value


# --- classify_response ------------------------------------------------------

CLASSIFY_CASES = [
    # (case id, http status, body, content type, status, error_code)
    ("documented example", 200, DOCUMENTED_BODY, "application/json",
     ExportStatus.ok, None),
    ("success true", 200, json.dumps({**json.loads(DOCUMENTED_BODY), "success": True}),
     "application/json", ExportStatus.ok, None),
    ("extra keys", 200,
     json.dumps({**json.loads(DOCUMENTED_BODY), "carrier": "x", "nested": {"a": [1]}}),
     "application/json", ExportStatus.ok, None),
    ("json with html content type", 200, DOCUMENTED_BODY, "text/html",
     ExportStatus.ok, None),
    ("html on 200", 200, "<html><body>Service Unavailable</body></html>", "text/html",
     ExportStatus.invalid_response, None),
    ("malformed json", 200, '{"phone_number": "444-555-6666", "country_code": ',
     "application/json", ExportStatus.invalid_response, None),
    ("empty body on 200", 200, "", "application/json",
     ExportStatus.invalid_response, None),
    ("json array on 200", 200, "[1, 2]", "application/json",
     ExportStatus.invalid_response, None),
    ("json string on 200", 200, '"+14445556666"', "application/json",
     ExportStatus.invalid_response, None),
    ("success false on 200", 200, error_body("60026"), "application/json",
     ExportStatus.invalid_response, "60026"),
    ("user not found", 404, error_body("60026", "User not found."), "application/json",
     ExportStatus.user_not_found, "60026"),
    ("export disabled", 400, error_body("60154"), "application/json",
     ExportStatus.export_disabled, "60154"),
    ("dos protection 429", 429, error_body("60003"), "application/json",
     ExportStatus.rate_limited, "60003"),
    ("dos protection 503", 503, error_body("60003"), "application/json",
     ExportStatus.rate_limited, "60003"),
    ("invalid api key", 401, error_body("60001"), "application/json",
     ExportStatus.unauthorized, "60001"),
    ("401 without code", 401, "Unauthorized", "text/plain",
     ExportStatus.unauthorized, None),
    ("429 without body", 429, "", None, ExportStatus.rate_limited, None),
    ("invalid request", 400, error_body("60002"), "application/json",
     ExportStatus.api_error, "60002"),
    ("invalid parameter", 400, error_body("60004"), "application/json",
     ExportStatus.api_error, "60004"),
    ("error code as number", 404, error_body(60026), "application/json",
     ExportStatus.user_not_found, "60026"),
    ("500 with code", 500, error_body("60000"), "application/json",
     ExportStatus.server_error, "60000"),
    ("503 html", 503, "<html><h1>503 Service Unavailable</h1></html>", "text/html",
     ExportStatus.server_error, None),
    ("404 html", 404, "<html>Not Found</html>", "text/html",
     ExportStatus.api_error, None),
    ("redirect", 302, "", None, ExportStatus.invalid_response, None),
    ("error with bom", 404, "\ufeff" + error_body("60026"), "application/json",
     ExportStatus.user_not_found, "60026"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("http_status", "body", "content_type", "status", "error_code"),
    [case[1:] for case in CLASSIFY_CASES],
    ids=[case[0] for case in CLASSIFY_CASES],
)
def test_classify_response_table(
    http_status: int,
    body: str,
    content_type: str | None,
    status: ExportStatus,
    error_code: str | None,
) -> None:
    result = classify_response(http_status, body, content_type)

    assert result.status is status
    assert result.error_code == error_code
    if status is ExportStatus.ok:
        assert result.fields is not None
    else:
        assert result.fields is None
        assert result.problem


def test_classify_documented_fields() -> None:
    result = classify_response(200, DOCUMENTED_BODY, "application/json")

    assert result.fields == {
        "phone_number": "444-555-6666",
        "country_code": "1",
        "e164": "+14445556666",
        "updated_at": "2021-12-09T15:41:20Z",
    }
    assert result.problem is None


def test_classify_json_numbers_keep_tokens() -> None:
    body = '{"phone_number": 4445556666, "country_code": 1, "e164": 14445556666.0}'

    result = classify_response(200, body, "application/json")

    assert result.status is ExportStatus.ok
    assert result.fields is not None
    assert result.fields["phone_number"] == "4445556666"
    assert result.fields["country_code"] == "1"
    assert result.fields["e164"] == "14445556666.0"
    assert all(type(value) is str for value in result.fields.values() if value)
    assert result.problem is not None
    assert "country_code was sent as a JSON number" in result.problem


def test_classify_integer_e164_never_becomes_float() -> None:
    body = '{"phone_number": "4445556666", "country_code": "1", "e164": 14445556666}'

    result = classify_response(200, body, "application/json")

    assert result.fields is not None
    assert result.fields["e164"] == "14445556666"


def test_classify_long_number_kept_exactly() -> None:
    digits = "9" * 5000
    body = json.dumps({"phone_number": "1", "country_code": "1", "e164": "x"})
    body = body.replace('"x"', digits)

    result = classify_response(200, body, None)

    assert result.fields is not None
    assert result.fields["e164"] == digits


@pytest.mark.parametrize("missing", ["phone_number", "country_code", "e164"])
def test_classify_missing_required_field(missing: str) -> None:
    document = json.loads(DOCUMENTED_BODY)
    del document[missing]

    result = classify_response(200, json.dumps(document), "application/json")

    assert result.status is ExportStatus.invalid_response
    assert result.problem is not None
    assert f"{missing} is missing" in result.problem


def test_classify_null_required_field() -> None:
    document = {**json.loads(DOCUMENTED_BODY), "e164": None}

    result = classify_response(200, json.dumps(document), None)

    assert result.status is ExportStatus.invalid_response
    assert result.problem is not None
    assert "e164 is missing" in result.problem


def test_classify_object_field_is_invalid() -> None:
    document = {**json.loads(DOCUMENTED_BODY), "phone_number": {"n": "444"}}

    result = classify_response(200, json.dumps(document), None)

    assert result.status is ExportStatus.invalid_response
    assert result.problem is not None
    assert "phone_number is a JSON dict" in result.problem


def test_classify_missing_updated_at_is_ok() -> None:
    document = json.loads(DOCUMENTED_BODY)
    del document["updated_at"]

    result = classify_response(200, json.dumps(document), "application/json")

    assert result.status is ExportStatus.ok
    assert result.fields is not None
    assert result.fields["updated_at"] is None
    assert result.problem == "updated_at is missing"


def test_classify_problem_masks_message_digits() -> None:
    body = error_body("60004", "Invalid parameter: phone 4445556666")

    result = classify_response(400, body, "application/json")

    assert result.problem is not None
    assert "4445556666" not in result.problem
    assert "Invalid parameter" in result.problem


def test_classify_deeply_nested_json() -> None:
    result = classify_response(200, "[" * 200_000, "application/json")

    assert result.status is ExportStatus.invalid_response


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
response_documents = st.fixed_dictionaries(
    {},
    optional={
        name: json_values
        for name in ("phone_number", "country_code", "e164", "updated_at", "success")
    },
)


@settings(max_examples=300, deadline=None)
@given(
    http_status=st.integers(),
    body=st.text() | response_documents.map(json.dumps) | json_values.map(json.dumps),
    content_type=st.none() | st.text(max_size=40),
)
def test_classify_response_never_raises(
    http_status: int, body: str, content_type: str | None
) -> None:
    result = classify_response(http_status, body, content_type)

    assert isinstance(result.status, ExportStatus)
    if result.status is ExportStatus.ok:
        assert result.fields is not None
        assert set(result.fields) == {"phone_number", "country_code", "e164", "updated_at"}
        assert all(value is None or type(value) is str for value in result.fields.values())
    else:
        assert result.fields is None


# --- validate_phone ---------------------------------------------------------

VALIDATE_CASES = [
    # (case id, phone_number, country_code, e164,
    #  well formed, consistent, possible, valid, region, number type)
    ("documented example", "444-555-6666", "1", "+14445556666",
     True, True, True, False, None, "UNKNOWN"),
    ("valid us", "(201) 555-0123", "1", "+12015550123",
     True, True, True, True, "US", "FIXED_LINE_OR_MOBILE"),
    ("canada shares 1", "416-555-0123", "1", "+14165550123",
     True, True, True, True, "CA", "FIXED_LINE_OR_MOBILE"),
    ("plus in country code", "416-555-0123", "+1", "+14165550123",
     True, True, True, True, "CA", "FIXED_LINE_OR_MOBILE"),
    ("russia", "495 123-45-67", "7", "+74951234567",
     True, True, True, True, "RU", "FIXED_LINE"),
    ("russia trunk prefix 8", "8 (495) 123-45-67", "7", "+74951234567",
     True, True, True, True, "RU", "FIXED_LINE"),
    ("kazakhstan shares 7", "701 234 5678", "7", "+77012345678",
     True, True, True, True, "KZ", "MOBILE"),
    ("italy leading zero", "02 1234 5678", "39", "+390212345678",
     True, True, True, True, "IT", "FIXED_LINE"),
    ("uk trunk prefix 0", "020 7946 0018", "44", "+442079460018",
     True, True, True, True, "GB", "FIXED_LINE"),
    ("non-geographic code", "1234 5678", "800", "+80012345678",
     True, True, True, True, "001", "TOLL_FREE"),
    ("e164 disagrees", "444-555-6666", "1", "+14445556667",
     True, False, True, False, None, "UNKNOWN"),
    ("country code disagrees", "416-555-0123", "44", "+14165550123",
     True, False, True, True, "CA", "FIXED_LINE_OR_MOBILE"),
    ("italy zero dropped", "2 1234 5678", "39", "+390212345678",
     True, False, True, True, "IT", "FIXED_LINE"),
    ("e164 without plus", "444-555-6666", "1", "14445556666",
     False, False, False, False, None, None),
    ("e164 from json float", "4445556666", "1", "14445556666.0",
     False, False, False, False, None, None),
    ("e164 with spaces", "416-555-0123", "1", "+1 416 555 0123",
     False, False, False, False, None, None),
    ("e164 trailing newline", "416-555-0123", "1", "+14165550123\n",
     False, False, False, False, None, None),
    ("e164 arabic-indic digits", "416-555-0123", "1", "+\u0661\u0664\u0661\u0666",
     False, False, False, False, None, None),
    ("e164 too long", "444-555-66667", "1", "+144455566667",
     True, True, False, False, None, "UNKNOWN"),
    ("e164 too short to parse", "4", "1", "+14",
     True, False, False, False, None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    (
        "phone_number", "country_code", "e164", "well_formed", "consistent",
        "possible", "valid", "region", "number_type",
    ),
    [case[1:] for case in VALIDATE_CASES],
    ids=[case[0] for case in VALIDATE_CASES],
)  # fmt: skip
def test_validate_phone_table(
    phone_number: str,
    country_code: str,
    e164: str,
    well_formed: bool,
    consistent: bool,
    possible: bool,
    valid: bool,
    region: str | None,
    number_type: str | None,
) -> None:
    result = validate_phone(phone_number, country_code, e164)

    assert result.e164_well_formed is well_formed
    assert result.e164_consistent is consistent
    assert result.is_possible is possible
    assert result.is_valid is valid
    assert result.region_code == region
    assert result.number_type == number_type
    assert result.has_extension is False
    all_passed = well_formed and consistent and valid
    assert (result.validation_problem is None) is all_passed


def test_validate_documented_example_problem() -> None:
    result = validate_phone("444-555-6666", "1", "+14445556666")

    assert result.validation_problem == "not a valid number for any region"


def test_validate_disagreement_problem() -> None:
    result = validate_phone("444-555-6666", "1", "+14445556667")

    assert result.validation_problem is not None
    assert "e164 disagrees with country_code and phone_number" in result.validation_problem


def test_validate_e164_without_plus_problem() -> None:
    result = validate_phone("444-555-6666", "1", "14445556666")

    assert result.validation_problem is not None
    assert "e164 is not well formed" in result.validation_problem


def test_validate_extension_flagged() -> None:
    result = validate_phone("201-555-0123 ext. 12", "1", "+12015550123")

    assert result.has_extension is True
    assert result.e164_consistent is True
    assert result.is_valid is True
    assert result.validation_problem is not None
    assert "extension" in result.validation_problem


@pytest.mark.parametrize(
    ("phone_number", "country_code", "e164", "expected_problem"),
    [
        (None, "1", "+12015550123", "phone_number or country_code is missing"),
        ("201-555-0123", None, "+12015550123", "phone_number or country_code is missing"),
        ("201-555-0123", "1", None, "e164 is missing"),
        ("201-555-0123", "one", "+12015550123", "country_code is not a calling code"),
        ("201-555-0123", "999", "+12015550123", "cannot be parsed with country_code"),
        ("call me", "1", "+12015550123", "cannot be parsed with country_code"),
        ("", "1", "", "e164 is not well formed"),
    ],
)
def test_validate_incomplete_input(
    phone_number: str | None,
    country_code: str | None,
    e164: str | None,
    expected_problem: str,
) -> None:
    result = validate_phone(phone_number, country_code, e164)

    assert result.e164_consistent is False
    assert result.validation_problem is not None
    assert expected_problem in result.validation_problem


@settings(max_examples=300, deadline=None)
@given(
    phone_number=st.none() | st.text(max_size=40),
    country_code=st.none() | st.text(max_size=5) | st.integers(0, 999).map(str),
    e164=st.none() | st.text(max_size=20) | st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True),
)
def test_validate_phone_never_raises(
    phone_number: str | None, country_code: str | None, e164: str | None
) -> None:
    result = validate_phone(phone_number, country_code, e164)

    if result.is_valid:
        assert result.is_possible
        assert result.e164_well_formed


# --- parse_updated_at -------------------------------------------------------

DOCUMENTED_TIME = datetime(2021, 12, 9, 15, 41, 20, tzinfo=UTC)
UPDATED_AT_CASES = [
    ("2021-12-09T15:41:20Z", DOCUMENTED_TIME, False),
    ("2021-12-09T15:41:20z", DOCUMENTED_TIME, False),
    ("2021-12-09T15:41:20.000Z", DOCUMENTED_TIME, False),
    ("2021-12-09T15:41:20.123456Z", DOCUMENTED_TIME + timedelta(microseconds=123456), False),
    ("2021-12-09T16:41:20+01:00", DOCUMENTED_TIME, False),
    ("2021-12-09T10:41:20-0500", DOCUMENTED_TIME, False),
    ("2021-12-09 15:41:20 UTC", DOCUMENTED_TIME, False),
    (" 2021-12-09T15:41:20Z ", DOCUMENTED_TIME, False),
    ("1639064480", DOCUMENTED_TIME, False),
    ("1639064480.5", DOCUMENTED_TIME + timedelta(milliseconds=500), False),
    ("2021-12-09T15:41:20", DOCUMENTED_TIME, True),
    ("2021-12-09", datetime(2021, 12, 9, tzinfo=UTC), True),
    ("yesterday", None, True),
    ("", None, True),
    ("2021-13-09T15:41:20Z", None, True),
    ("9" * 30, None, True),
    ("0001-01-01T00:00:00+01:00", None, True),
    ("9999-12-31T23:59:59-01:00", None, True),
    (None, None, True),
]


@pytest.mark.parametrize(("text", "expected", "has_problem"), UPDATED_AT_CASES)
def test_parse_updated_at_table(
    text: str | None, expected: datetime | None, has_problem: bool
) -> None:
    result = parse_updated_at(text)

    assert result.value == expected
    if result.value is not None:
        assert result.value.utcoffset() == timedelta(0)
    assert (result.problem is not None) is has_problem


# ISO-8601 offsets are whole minutes; Python 3.11's fromisoformat drops sub-second offsets.
fixed_offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@settings(max_examples=300, deadline=None)
@given(st.none() | st.text(max_size=40) | st.datetimes(timezones=fixed_offsets).map(str))
def test_parse_updated_at_never_raises(text: str | None) -> None:
    result = parse_updated_at(text)

    if result.value is None:
        assert result.problem is not None
    else:
        assert result.value.utcoffset() == timedelta(0)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1), timezones=fixed_offsets
    )
)
def test_parse_updated_at_round_trips_isoformat(value: datetime) -> None:
    result = parse_updated_at(value.isoformat())

    assert result.value == value
    assert result.problem is None


# --- build_phone_row and schemas -------------------------------------------


def test_phone_row_columns_match_schema() -> None:
    assert tuple(PHONE_NUMBERS_SCHEMA.names) == PHONE_ROW_COLUMNS


def test_build_phone_row_documented_example() -> None:
    row = build_phone_row(
        1, ExportStatus.ok, None, 200, DOCUMENTED_BODY, FETCHED_AT, batch_key="b1"
    )

    assert tuple(row) == PHONE_ROW_COLUMNS
    assert row["status"] == "ok"
    assert row["e164"] == "+14445556666"
    assert row["updated_at"] == DOCUMENTED_TIME
    assert row["e164_consistent"] is True
    assert row["is_possible"] is True
    assert row["is_valid"] is False
    assert row["validation_problem"] == "not a valid number for any region"
    assert row["problem"] is None


def test_build_phone_row_error_status() -> None:
    body = error_body("60026", "User not found.")

    row = build_phone_row(7, "user_not_found", None, 404, body, FETCHED_AT, batch_key="b1")

    assert row["status"] == "user_not_found"
    assert row["error_code"] == "60026"
    assert row["phone_number"] is None
    assert row["e164_well_formed"] is None
    assert row["is_valid"] is None


def test_build_phone_row_timeout_without_body() -> None:
    row = build_phone_row(7, ExportStatus.timeout, None, None, None, FETCHED_AT, batch_key="b1")

    assert row["status"] == "timeout"
    assert row["http_status"] is None
    assert row["problem"] is None


def test_build_phone_row_ok_with_html_is_invalid() -> None:
    row = build_phone_row(7, "ok", None, 200, "<html></html>", FETCHED_AT, batch_key="b1")

    assert row["status"] == "invalid_response"
    assert row["phone_number"] is None
    assert row["problem"] is not None


def test_build_phone_row_bad_updated_at_noted() -> None:
    body = json.dumps({**json.loads(DOCUMENTED_BODY), "updated_at": "last week"})

    row = build_phone_row(7, "ok", None, 200, body, FETCHED_AT, batch_key="b1")

    assert row["status"] == "ok"
    assert row["updated_at"] is None
    assert row["problem"] == "updated_at is not an ISO-8601 timestamp"


def test_build_phone_row_converts_fetched_at_to_utc() -> None:
    local = FETCHED_AT.astimezone(timezone(timedelta(hours=3)))

    row = build_phone_row(7, "timeout", None, None, None, local, batch_key="b1")

    assert row["fetched_at"] == FETCHED_AT
    assert row["fetched_at"].utcoffset() == timedelta(0)


def test_build_phone_row_not_requested() -> None:
    row = build_phone_row(7, "not_requested", None, None, None, None, batch_key="b1")

    assert row["status"] == "not_requested"
    assert row["fetched_at"] is None
    table = table_from_rows([row], PHONE_NUMBERS_SCHEMA)
    assert table.column("fetched_at").null_count == 1


def test_build_phone_row_keeps_quota_status() -> None:
    body = error_body("60003", "Too many requests.")

    row = build_phone_row(7, "quota_exhausted", None, 429, body, FETCHED_AT, batch_key="b1")

    assert row["status"] == "quota_exhausted"
    assert row["error_code"] == "60003"
    assert row["problem"] == "HTTP 429, error 60003: Too many requests."


def test_build_phone_row_rejects_naive_fetched_at() -> None:
    with pytest.raises(ValueError, match="fetched_at"):
        build_phone_row(7, "timeout", None, None, None, datetime(2024, 5, 1))


def test_build_phone_row_rejects_unknown_status() -> None:
    with pytest.raises(ValueError):
        build_phone_row(7, "done", None, None, None, FETCHED_AT)


def assert_exact_schema(table: pa.Table, schema: pa.Schema) -> None:
    assert table.schema.equals(schema, check_metadata=True)
    for field in table.schema:
        assert not pa.types.is_large_string(field.type), field.name
        assert not pa.types.is_null(field.type), field.name


@pytest.mark.parametrize("schema", [RAW_RESPONSES_SCHEMA, PHONE_NUMBERS_SCHEMA])
def test_table_from_zero_rows(schema: pa.Schema) -> None:
    table = table_from_rows([], schema)

    assert table.num_rows == 0
    assert_exact_schema(table, schema)


def all_null_row(schema: pa.Schema) -> dict[str, object]:
    required = {
        "authy_id": 1,
        "batch_key": "b1",
        "requested_at": FETCHED_AT,
        "attempt": 1,
        "outcome": "no_answer",
        "counted": True,
        "status": "no_answer",
    }
    return {name: required.get(name) for name in schema.names}


@pytest.mark.parametrize("schema", [RAW_RESPONSES_SCHEMA, PHONE_NUMBERS_SCHEMA])
def test_table_from_all_null_rows(schema: pa.Schema) -> None:
    table = table_from_rows([all_null_row(schema), all_null_row(schema)], schema)

    assert table.num_rows == 2
    assert_exact_schema(table, schema)


def test_raw_responses_columns() -> None:
    assert RAW_RESPONSES_SCHEMA.names == [
        "authy_id", "batch_key", "requested_at", "received_at", "attempt",
        "http_status", "error_code", "status", "outcome", "content_type", "body",
        "duration_ms", "counted", "run_id",
    ]  # fmt: skip


def test_schema_column_types() -> None:
    assert PHONE_NUMBERS_SCHEMA.field("e164").type == pa.string()
    assert PHONE_NUMBERS_SCHEMA.field("phone_number").type == pa.string()
    assert PHONE_NUMBERS_SCHEMA.field("country_code").type == pa.string()
    assert PHONE_NUMBERS_SCHEMA.field("authy_id").type == pa.int64()
    assert PHONE_NUMBERS_SCHEMA.field("updated_at").type == TIMESTAMP_TYPE
    assert str(TIMESTAMP_TYPE) == "timestamp[us, tz=UTC]"
    assert RAW_RESPONSES_SCHEMA.field("attempt").type == pa.int16()
    assert RAW_RESPONSES_SCHEMA.field("duration_ms").type == pa.float64()


def test_phone_table_parquet_round_trip(tmp_path: Path) -> None:
    rows = [
        build_phone_row(1, "ok", None, 200, DOCUMENTED_BODY, FETCHED_AT, batch_key="b1"),
        build_phone_row(2, "timeout", None, None, None, FETCHED_AT, batch_key="b1"),
    ]
    path = tmp_path / "phones.parquet"

    pq.write_table(table_from_rows(rows, PHONE_NUMBERS_SCHEMA), path)
    table = pq.read_table(path)

    assert_exact_schema(table, PHONE_NUMBERS_SCHEMA)
    assert table.column("e164").to_pylist() == ["+14445556666", None]
    assert table.column("updated_at").to_pylist()[0] == DOCUMENTED_TIME


def test_table_rejects_integer_phone_number() -> None:
    row = build_phone_row(1, "ok", None, 200, DOCUMENTED_BODY, FETCHED_AT, batch_key="b1")
    row["e164"] = 14445556666

    with pytest.raises((pa.ArrowTypeError, pa.ArrowInvalid)):
        table_from_rows([row], PHONE_NUMBERS_SCHEMA)


def test_table_rejects_unknown_column() -> None:
    row = {**all_null_row(PHONE_NUMBERS_SCHEMA), "phone": "x"}

    with pytest.raises(ValueError, match="unknown columns"):
        table_from_rows([row], PHONE_NUMBERS_SCHEMA)


def test_table_rejects_missing_column() -> None:
    row = all_null_row(PHONE_NUMBERS_SCHEMA)
    del row["problem"]

    with pytest.raises(ValueError, match="missing columns"):
        table_from_rows([row], PHONE_NUMBERS_SCHEMA)


def test_table_rejects_null_batch_key() -> None:
    row = build_phone_row(1, "timeout", None, None, None, FETCHED_AT)

    with pytest.raises(ValueError, match="batch_key must not contain null"):
        table_from_rows([row], PHONE_NUMBERS_SCHEMA)


def test_table_rejects_unknown_status() -> None:
    row = {**all_null_row(PHONE_NUMBERS_SCHEMA), "status": "done"}

    with pytest.raises(ValueError, match="unknown values"):
        table_from_rows([row], PHONE_NUMBERS_SCHEMA)


def test_table_rejects_unknown_outcome() -> None:
    row = {**all_null_row(RAW_RESPONSES_SCHEMA), "outcome": "ok"}

    with pytest.raises(ValueError, match="unknown values"):
        table_from_rows([row], RAW_RESPONSES_SCHEMA)


def test_table_rejects_naive_timestamp() -> None:
    row = {**all_null_row(RAW_RESPONSES_SCHEMA), "requested_at": datetime(2024, 5, 1)}

    with pytest.raises(ValueError, match="naive datetime"):
        table_from_rows([row], RAW_RESPONSES_SCHEMA)


@pytest.mark.parametrize("schema", [RAW_RESPONSES_SCHEMA, PHONE_NUMBERS_SCHEMA])
def test_column_schema_metadata_describes_all(schema: pa.Schema) -> None:
    columns = column_schema_metadata(schema)

    assert [name for name, _, _ in columns] == schema.names
    assert all(description for _, _, description in columns)
    assert dict((name, type_) for name, type_, _ in columns)["authy_id"] == "int64"
