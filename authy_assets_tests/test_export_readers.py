"""One real export read with pyarrow, pandas, DuckDB and Polars: same rows, documented types.

The documented types are the table marked reader-types in authy_assets/docs/export-schema.md.
For pandas with default dtypes a cell may name two dtypes: the first for a column that
contains a null, the second for a column without one, which the test gets by reading only the
ok rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

from authy_assets_tests.export_sample import (
    EXPECTED_STATUS,
    EXPECTED_VERIFY_READY,
    SampleExport,
    build_sample_export,
    phone_field_differences,
    row_differences,
)
from authy_assets_tests.schema_doc import (
    READER_TYPES_MARKER,
    SCHEMA_DOC,
    code_spans,
    markdown_table,
    read_schema_doc,
)

READERS = ("pyarrow", "pandas", "pandas (pyarrow)", "DuckDB", "Polars", "Spark")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleExport]:
    with dg.instance_for_test() as instance:
        yield build_sample_export(tmp_path_factory.mktemp("readers"), instance)


@pytest.fixture(scope="module")
def expected_rows(sample: SampleExport) -> list[dict[str, Any]]:
    return pq.read_table(sample.export_file).sort_by("authy_id").to_pylist()


def documented_types(reader: str) -> dict[str, list[str]]:
    """Return the documented types of each column for ``reader``, in the table's order."""
    rows = markdown_table(read_schema_doc(), READER_TYPES_MARKER)
    return {code_spans(row["column"])[0]: code_spans(row[reader]) for row in rows}


def assert_types(reader: str, actual: dict[str, str], *, position: int = 0) -> None:
    documented = documented_types(reader)
    assert list(actual) == list(documented), f"{reader}: columns differ from {SCHEMA_DOC.name}"
    for column, types in documented.items():
        expected = types[min(position, len(types) - 1)]
        assert actual[column] == expected, (
            f"{reader} reads {column} as {actual[column]}, but {SCHEMA_DOC.name} documents"
            f" {expected}. Update the reader-types table if the reader changed."
        )


def assert_same_rows(
    reader: str, rows: list[dict[str, Any]], expected: list[dict[str, Any]]
) -> None:
    differences = row_differences(reader, rows, expected)
    assert not differences, "\n".join(differences)
    phone_differences = phone_field_differences(reader, rows)
    assert not phone_differences, "\n".join(phone_differences)


def test_sample_has_expected_users(expected_rows: list[dict[str, Any]]) -> None:
    statuses = {row["authy_id"]: row["status"] for row in expected_rows}
    assert statuses == EXPECTED_STATUS


def test_documented_readers() -> None:
    rows = markdown_table(read_schema_doc(), READER_TYPES_MARKER)
    assert list(rows[0]) == ["column", *READERS]


def test_pyarrow_reader(sample: SampleExport, expected_rows: list[dict[str, Any]]) -> None:
    table = pq.read_table(sample.export_file)
    assert_types("pyarrow", {field.name: str(field.type) for field in table.schema})
    assert_same_rows("pyarrow", table.sort_by("authy_id").to_pylist(), expected_rows)
    assert phone_field_differences("pyarrow", expected_rows) == []


def test_pandas_default_reader(sample: SampleExport, expected_rows: list[dict[str, Any]]) -> None:
    frame = pd.read_parquet(sample.export_file).sort_values("authy_id")
    assert_types("pandas", {name: str(dtype) for name, dtype in frame.dtypes.items()})
    assert_same_rows("pandas", frame.to_dict("records"), expected_rows)

    assert str(frame["updated_at"].dt.tz) == "UTC"
    with_nulls = frame.set_index("authy_id")["is_valid"]
    assert with_nulls[12] is None
    assert with_nulls[11] is True


def test_pandas_default_reader_without_nulls(
    sample: SampleExport, expected_rows: list[dict[str, Any]]
) -> None:
    frame = pd.read_parquet(sample.export_file, filters=[("status", "==", "ok")])
    frame = frame.sort_values("authy_id")
    assert_types("pandas", {name: str(dtype) for name, dtype in frame.dtypes.items()}, position=1)
    ok_rows = [row for row in expected_rows if row["status"] == "ok"]
    assert_same_rows("pandas", frame.to_dict("records"), ok_rows)


def test_pandas_pyarrow_reader(sample: SampleExport, expected_rows: list[dict[str, Any]]) -> None:
    frame = pd.read_parquet(sample.export_file, dtype_backend="pyarrow").sort_values("authy_id")
    assert_types("pandas (pyarrow)", {name: str(dtype) for name, dtype in frame.dtypes.items()})
    assert_same_rows("pandas (pyarrow)", frame.to_dict("records"), expected_rows)


def test_duckdb_reader(sample: SampleExport, expected_rows: list[dict[str, Any]]) -> None:
    path = str(sample.export_file)
    with duckdb.connect() as connection:
        described = connection.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()
        cursor = connection.execute("SELECT * FROM read_parquet(?) ORDER BY authy_id", [path])
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    assert_types("DuckDB", {name: type_name for name, type_name, *_ in described})
    assert_same_rows("DuckDB", rows, expected_rows)
    assert rows[0]["updated_at"].utcoffset().total_seconds() == 0


def test_polars_reader(sample: SampleExport, expected_rows: list[dict[str, Any]]) -> None:
    frame = pl.read_parquet(sample.export_file).sort("authy_id")
    assert_types("Polars", {name: str(dtype) for name, dtype in frame.schema.items()})
    assert_same_rows("Polars", frame.to_dicts(), expected_rows)
    assert frame["updated_at"][0].tzinfo is not None


def test_verify_ready_csv_keeps_plus_as_text(sample: SampleExport) -> None:
    csv_path: Path = sample.outputs.verify_ready_csv
    as_text = pd.read_csv(csv_path, dtype=str)
    from_parquet = pq.read_table(sample.outputs.verify_ready_parquet).to_pylist()

    assert [int(value) for value in as_text["authy_id"]] == sorted(EXPECTED_VERIFY_READY)
    assert list(as_text["e164"]) == [row["e164"] for row in from_parquet]
    assert list(as_text["sms_capable"]) == [
        str(EXPECTED_VERIFY_READY[authy_id]).lower() for authy_id in sorted(EXPECTED_VERIFY_READY)
    ]
    # The document warns that pandas infers integers despite the quotes.
    inferred = pd.read_csv(csv_path)
    assert inferred["e164"].dtype.kind == "i"


def test_timestamps_are_utc(expected_rows: list[dict[str, Any]]) -> None:
    for row in expected_rows:
        assert row["fetched_at"].utcoffset() == timedelta(0), row["authy_id"]
        if row["status"] == "ok":
            assert row["updated_at"].utcoffset() == timedelta(0), row["authy_id"]
