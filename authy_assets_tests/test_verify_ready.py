"""Selection of the verify-ready users: the rules as pure logic, then the files through Dagster."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from authy_assets.export import (
    RULE_REASONS,
    export_outputs,
    is_sms_capable,
    select_verify_ready,
    write_export,
)
from authy_assets.files import SHARE_WITH_GROUP_VARIABLE
from authy_assets.phones import ExportStatus
from authy_assets.schema import PHONE_NUMBERS_SCHEMA, VERIFY_READY_SCHEMA, table_from_rows
from authy_assets_tests.export_sample import (
    EXPECTED_LEFT_OUT,
    EXPECTED_VERIFY_READY,
    SampleExport,
    build_sample_export,
)

FETCHED_AT = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def phone_row(authy_id: int, **changes: Any) -> dict[str, Any]:
    """Return an ok row with a valid mobile number, changed by ``changes``."""
    row: dict[str, Any] = dict.fromkeys(PHONE_NUMBERS_SCHEMA.names)
    row.update(
        authy_id=authy_id,
        batch_key="batch-000001",
        status="ok",
        http_status=200,
        phone_number="07400 123456",
        country_code="44",
        e164="+447400123456",
        fetched_at=FETCHED_AT,
        e164_well_formed=True,
        e164_consistent=True,
        region_code="GB",
        number_type="MOBILE",
        is_possible=True,
        is_valid=True,
        has_extension=False,
    )
    row.update(changes)
    return row


def select(rows: list[dict[str, Any]]):
    return select_verify_ready(table_from_rows(rows, PHONE_NUMBERS_SCHEMA))


def test_valid_mobile_is_ready() -> None:
    selection = select([phone_row(1)])
    assert selection.table.to_pylist() == [
        {
            "authy_id": 1,
            "e164": "+447400123456",
            "country_code": "44",
            "region_code": "GB",
            "number_type": "MOBILE",
            "sms_capable": True,
        }
    ]
    assert selection.left_out_by_reason == {}
    assert selection.table.schema == VERIFY_READY_SCHEMA


TYPE_NAMES = [PhoneNumberType.to_string(value) for value in PhoneNumberType.values()]


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_sms_capable_types(type_name: str) -> None:
    expected = type_name in {"MOBILE", "FIXED_LINE_OR_MOBILE"}
    assert is_sms_capable(type_name) is expected
    selection = select([phone_row(1, number_type=type_name)])
    assert selection.table.column("sms_capable").to_pylist() == [expected]


def test_sms_capable_none() -> None:
    assert is_sms_capable(None) is False


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": "export_disabled"}, "export_disabled"),
        ({"status": "server_error", "is_valid": False}, "server_error"),
        (
            {"e164_well_formed": False, "e164_consistent": False, "is_valid": False},
            "e164_malformed",
        ),
        ({"e164_consistent": False, "has_extension": True}, "e164_inconsistent"),
        ({"is_valid": False, "has_extension": True}, "number_invalid"),
        ({"has_extension": True}, "has_extension"),
        ({"e164_well_formed": None}, "e164_malformed"),
        ({"is_valid": None}, "number_invalid"),
        ({"has_extension": None}, "has_extension"),
    ],
)
def test_first_failing_rule_counts(changes: dict[str, Any], reason: str) -> None:
    selection = select([phone_row(1, **changes), phone_row(2)])
    assert selection.left_out_by_reason == {reason: 1}
    assert selection.table.column("authy_id").to_pylist() == [2]


def test_reasons_in_documented_order() -> None:
    rows = [
        phone_row(1, has_extension=True),
        phone_row(2, is_valid=False),
        phone_row(3, e164_consistent=False),
        phone_row(4, e164_well_formed=False),
        phone_row(5, status="api_error"),
        phone_row(6, status="user_not_found"),
    ]
    selection = select(rows)
    assert list(selection.left_out_by_reason) == [
        "user_not_found",
        "api_error",
        *RULE_REASONS,
    ]
    assert RULE_REASONS == (
        "e164_malformed",
        "e164_inconsistent",
        "number_invalid",
        "has_extension",
    )


def test_empty_export_selects_nothing() -> None:
    selection = select([])
    assert selection.ready_rows == 0
    assert selection.left_out_by_reason == {}
    assert selection.table.schema == VERIFY_READY_SCHEMA


def expected_reason(row: dict[str, Any]) -> str | None:
    """The rules written out one by one, to compare with the vectorized selection."""
    if row["status"] != "ok":
        return row["status"]
    if row["e164_well_formed"] is not True:
        return "e164_malformed"
    if row["e164_consistent"] is not True:
        return "e164_inconsistent"
    if row["is_valid"] is not True:
        return "number_invalid"
    if row["has_extension"] is not False:
        return "has_extension"
    return None


maybe_bool = st.sampled_from([True, False, None])
random_rows = st.lists(
    st.fixed_dictionaries(
        {
            "status": st.sampled_from([status.value for status in ExportStatus]),
            "e164_well_formed": maybe_bool,
            "e164_consistent": maybe_bool,
            "is_valid": maybe_bool,
            "has_extension": maybe_bool,
        }
    ),
    max_size=30,
)


@given(random_rows)
def test_every_user_ready_or_counted_once(changes: list[dict[str, Any]]) -> None:
    rows = [phone_row(index + 1, **change) for index, change in enumerate(changes)]
    selection = select(rows)

    reasons = [expected_reason(row) for row in rows]
    expected_ready = [row["authy_id"] for row, reason in zip(rows, reasons) if reason is None]
    expected_counts: dict[str, int] = {}
    for reason in reasons:
        if reason is not None:
            expected_counts[reason] = expected_counts.get(reason, 0) + 1

    assert selection.table.column("authy_id").to_pylist() == expected_ready
    assert selection.left_out_by_reason == expected_counts
    assert selection.ready_rows + selection.left_out_rows == len(rows)


def file_mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(("share", "mode"), [("0", 0o600), ("1", 0o640)])
def test_written_files_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, share: str, mode: int
) -> None:
    monkeypatch.setenv(SHARE_WITH_GROUP_VARIABLE, share)
    outputs = export_outputs(tmp_path / "exports" / "authy_phone_numbers.parquet")
    table = table_from_rows([phone_row(1), phone_row(2, is_valid=False)], PHONE_NUMBERS_SCHEMA)

    write_export(table, outputs, FETCHED_AT)

    for path in (
        outputs.export_parquet,
        outputs.verify_ready_csv,
        outputs.verify_ready_parquet,
        outputs.summary_html,
    ):
        assert file_mode(path) == mode, path.name
    directory = outputs.export_parquet.parent
    leftovers = [path.name for path in directory.iterdir() if path.name.startswith(".")]
    assert leftovers == []


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleExport]:
    with dg.instance_for_test() as instance:
        yield build_sample_export(tmp_path_factory.mktemp("verify_ready"), instance)


def test_verify_ready_parquet_through_dagster(sample: SampleExport) -> None:
    table = pq.read_table(sample.outputs.verify_ready_parquet)
    export = {row["authy_id"]: row for row in pq.read_table(sample.export_file).to_pylist()}

    sms_capable = {row["authy_id"]: row["sms_capable"] for row in table.to_pylist()}
    assert sms_capable == EXPECTED_VERIFY_READY
    for row in table.to_pylist():
        source = export[row["authy_id"]]
        for name in ("e164", "country_code", "region_code", "number_type"):
            assert row[name] == source[name], (row["authy_id"], name)


def test_verify_ready_csv_matches_parquet(sample: SampleExport) -> None:
    lines = sample.outputs.verify_ready_csv.read_text(encoding="utf-8").splitlines()
    table = pq.read_table(sample.outputs.verify_ready_parquet)

    assert lines[0] == ",".join(f'"{name}"' for name in VERIFY_READY_SCHEMA.names)
    expected_lines = [
        f'{row["authy_id"]},"{row["e164"]}","{row["country_code"]}","{row["region_code"]}",'
        f'"{row["number_type"]}",{str(row["sms_capable"]).lower()}'
        for row in table.to_pylist()
    ]
    assert lines[1:] == expected_lines


def test_left_out_counts_in_metadata(sample: SampleExport) -> None:
    (materialization,) = sample.result.asset_materializations_for_node("authy_phone_export")
    metadata = materialization.metadata

    assert metadata["verify_ready_rows"].value == len(EXPECTED_VERIFY_READY)
    assert metadata["left_out_by_reason"].value == EXPECTED_LEFT_OUT
    assert list(metadata["left_out_by_reason"].value) == list(EXPECTED_LEFT_OUT)
    assert metadata["verify_ready_csv"].value == str(sample.outputs.verify_ready_csv)
