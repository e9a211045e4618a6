"""The export's schema against its document, and the key-value metadata of a real export."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata as package_metadata

import dagster as dg
import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from authy_assets.assets.metadata import dagster_table_schema
from authy_assets.export import (
    AUTHY_ASSETS_VERSION_KEY,
    PHONENUMBERS_VERSION_KEY,
    SCHEMA_VERSION_KEY,
    WRITTEN_AT_KEY,
    export_file_metadata,
    read_file_metadata,
)
from authy_assets.schema import EXPORT_SCHEMA_VERSION, PHONE_NUMBERS_SCHEMA, VERIFY_READY_SCHEMA
from authy_assets_tests.export_sample import SampleExport, build_sample_export
from authy_assets_tests.schema_doc import (
    EXPORT_COLUMNS_MARKER,
    SCHEMA_DOC,
    VERIFY_READY_COLUMNS_MARKER,
    code_spans,
    documented_version,
    markdown_table,
    read_schema_doc,
)

UPDATE_HINT = (
    f"Update the column table in {SCHEMA_DOC.name} (authy_assets/docs/) to match the code, and"
    " bump EXPORT_SCHEMA_VERSION in authy_assets/schema.py together with the document's"
    " '**Schema version:**' line."
)
NULLABLE_CELLS = {"yes": True, "no": False}


def documented_columns(marker: str) -> list[tuple[str, str, bool]]:
    """Return (name, Arrow type, nullable) of each row of a column table of the document."""
    columns = []
    for row in markdown_table(read_schema_doc(), marker):
        (name,) = code_spans(row["column"])
        (type_name,) = code_spans(row["Arrow type"])
        columns.append((name, type_name, NULLABLE_CELLS[row["nullable"]]))
    return columns


def schema_differences(schema: pa.Schema, documented: list[tuple[str, str, bool]]) -> list[str]:
    """List every difference in names, order, Arrow types and nullability, one line each."""
    actual = [(field.name, str(field.type), field.nullable) for field in schema]
    differences = []
    actual_names = [name for name, _, _ in actual]
    documented_names = [name for name, _, _ in documented]
    if actual_names != documented_names:
        differences.append(f"columns in the code: {actual_names}")
        differences.append(f"columns in the document: {documented_names}")
    documented_by_name = {name: (type_name, nullable) for name, type_name, nullable in documented}
    for name, type_name, nullable in actual:
        if name not in documented_by_name:
            continue
        documented_type, documented_nullable = documented_by_name[name]
        if type_name != documented_type:
            differences.append(
                f"{name}: type {type_name} in the code, {documented_type} documented"
            )
        if nullable != documented_nullable:
            differences.append(
                f"{name}: nullable={nullable} in the code,"
                f" nullable={documented_nullable} documented"
            )
    return differences


def assert_schema_documented(schema: pa.Schema, marker: str, schema_name: str) -> None:
    differences = schema_differences(schema, documented_columns(marker))
    assert not differences, (
        f"{schema_name} differs from {SCHEMA_DOC}:\n  "
        + "\n  ".join(differences)
        + f"\n{UPDATE_HINT}"
    )


def test_phone_schema_matches_document() -> None:
    assert_schema_documented(PHONE_NUMBERS_SCHEMA, EXPORT_COLUMNS_MARKER, "PHONE_NUMBERS_SCHEMA")


def test_verify_ready_schema_matches_document() -> None:
    assert_schema_documented(
        VERIFY_READY_SCHEMA, VERIFY_READY_COLUMNS_MARKER, "VERIFY_READY_SCHEMA"
    )


def test_document_version_matches_constant() -> None:
    version = documented_version(read_schema_doc())
    assert version == EXPORT_SCHEMA_VERSION, (
        f"{SCHEMA_DOC} documents schema version {version}, but EXPORT_SCHEMA_VERSION is"
        f" {EXPORT_SCHEMA_VERSION}. {UPDATE_HINT}"
    )


@pytest.mark.parametrize("marker", [EXPORT_COLUMNS_MARKER, VERIFY_READY_COLUMNS_MARKER])
def test_document_describes_every_column(marker: str) -> None:
    for row in markdown_table(read_schema_doc(), marker):
        for heading in ("meaning", "example", "null when"):
            assert row[heading], f"{row['column']} has an empty '{heading}' cell in {SCHEMA_DOC}"
        if row["nullable"] == "no":
            assert row["null when"] == "never", row["column"]


def test_schema_differences_finds_changes() -> None:
    documented = [(field.name, str(field.type), field.nullable) for field in PHONE_NUMBERS_SCHEMA]
    assert schema_differences(PHONE_NUMBERS_SCHEMA, documented) == []

    retyped = PHONE_NUMBERS_SCHEMA.set(4, pa.field("http_status", pa.int32()))
    assert schema_differences(retyped, documented) == [
        "http_status: type int32 in the code, int16 documented"
    ]

    required = PHONE_NUMBERS_SCHEMA.set(5, pa.field("phone_number", pa.string(), nullable=False))
    assert schema_differences(required, documented) == [
        "phone_number: nullable=False in the code, nullable=True documented"
    ]

    reordered = pa.schema([PHONE_NUMBERS_SCHEMA.field(1), PHONE_NUMBERS_SCHEMA.field(0)])
    assert len(schema_differences(reordered, documented[:2])) == 2

    extended = PHONE_NUMBERS_SCHEMA.append(pa.field("carrier", pa.string()))
    assert schema_differences(extended, documented)


def test_file_metadata_rejects_naive_time() -> None:
    with pytest.raises(ValueError, match="UTC"):
        export_file_metadata(datetime(2026, 5, 1, 10, 0))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SampleExport, datetime]]:
    started = datetime.now(UTC)
    with dg.instance_for_test() as instance:
        yield build_sample_export(tmp_path_factory.mktemp("contract"), instance), started


def test_export_key_value_metadata(sample: tuple[SampleExport, datetime]) -> None:
    export, started = sample
    stored = read_file_metadata(export.export_file)

    assert stored[SCHEMA_VERSION_KEY] == EXPORT_SCHEMA_VERSION
    assert stored[PHONENUMBERS_VERSION_KEY] == phonenumbers.__version__
    assert stored[AUTHY_ASSETS_VERSION_KEY] == package_metadata.version("authy-assets")
    written_at = datetime.fromisoformat(stored[WRITTEN_AT_KEY])
    assert written_at.utcoffset() is not None
    assert written_at.utcoffset().total_seconds() == 0
    assert started <= written_at <= datetime.now(UTC)
    assert set(stored) == {
        SCHEMA_VERSION_KEY,
        WRITTEN_AT_KEY,
        PHONENUMBERS_VERSION_KEY,
        AUTHY_ASSETS_VERSION_KEY,
    }


def test_verify_ready_file_has_same_metadata(sample: tuple[SampleExport, datetime]) -> None:
    export, _ = sample
    assert read_file_metadata(export.outputs.verify_ready_parquet) == read_file_metadata(
        export.export_file
    )


@pytest.mark.parametrize(
    ("output", "schema"),
    [("export_parquet", PHONE_NUMBERS_SCHEMA), ("verify_ready_parquet", VERIFY_READY_SCHEMA)],
)
def test_written_schema_keeps_descriptions(
    sample: tuple[SampleExport, datetime], output: str, schema: pa.Schema
) -> None:
    export, _ = sample
    written = pq.read_schema(getattr(export.outputs, output))
    assert written.equals(schema, check_metadata=False)
    for field in schema:
        assert written.field(field.name).metadata == field.metadata, field.name
        assert written.field(field.name).nullable == field.nullable, field.name


def test_materialization_shows_schema(sample: tuple[SampleExport, datetime]) -> None:
    export, _ = sample
    (materialization,) = export.result.asset_materializations_for_node("authy_phone_export")
    metadata = materialization.metadata
    assert metadata["dagster/column_schema"].value == dagster_table_schema(PHONE_NUMBERS_SCHEMA)
    assert metadata["schema_version"].value == EXPORT_SCHEMA_VERSION
    assert metadata["dagster/row_count"].value == pq.read_metadata(export.export_file).num_rows
    assert metadata["path"].value == str(export.export_file)


# Columns whose documented example depends on when the sample was built.
EXAMPLES_NOT_IN_SAMPLE = {"fetched_at"}


def example_text(value: object) -> str:
    """Return ``value`` as the document's example cells write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_documented_examples_occur_in_export(sample: tuple[SampleExport, datetime]) -> None:
    export, _ = sample
    table = pq.read_table(export.export_file)
    for row in markdown_table(read_schema_doc(), EXPORT_COLUMNS_MARKER):
        (name,) = code_spans(row["column"])
        if name in EXAMPLES_NOT_IN_SAMPLE:
            continue
        (example,) = code_spans(row["example"])
        values = {example_text(value) for value in table.column(name).to_pylist()}
        assert example in values, f"{name}: example {example!r} is not in the sample export"


def test_rows_with_response_have_problem(sample: tuple[SampleExport, datetime]) -> None:
    export, _ = sample
    rows = pq.read_table(export.export_file).to_pylist()
    not_ok = [row for row in rows if row["status"] != "ok"]

    assert not_ok
    for row in not_ok:
        status = row["http_status"]
        if status is None:
            assert row["problem"] is None, row["status"]
        elif 200 <= status <= 299:
            assert row["problem"].startswith("2xx "), row["status"]
        else:
            assert row["problem"].startswith(f"HTTP {status}"), row["status"]
        assert row["phone_number"] is None, row["status"]
        assert row["region_code"] is None, row["status"]
