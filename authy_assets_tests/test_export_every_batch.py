"""Every batch and every export has the same Arrow schema, whatever its users' statuses.

A batch whose users are all export-disabled has nulls in every phone column, and an export
before any batch is fetched has no rows. Both must still write the full schema, with no
column of Arrow's null type.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from authy_assets.export import export_outputs, read_file_metadata
from authy_assets.schema import EXPORT_SCHEMA_VERSION, PHONE_NUMBERS_SCHEMA, VERIFY_READY_SCHEMA
from authy_assets_tests.export_sample import (
    OK_BATCH,
    SampleExport,
    build_export,
    sample_project,
)

DISABLED_BATCH: dict[int, dict[str, Any] | None] = {
    authy_id + 100: {**entry, "export_disabled": True} for authy_id, entry in OK_BATCH.items()
}
FINE_BATCH: dict[int, dict[str, Any] | None] = dict(OK_BATCH)


def field_list(schema: pa.Schema) -> list[tuple[str, str, bool, dict[bytes, bytes] | None]]:
    return [(field.name, str(field.type), field.nullable, field.metadata) for field in schema]


def assert_no_null_type(schema: pa.Schema) -> None:
    null_typed = [field.name for field in schema if pa.types.is_null(field.type)]
    assert null_typed == [], f"columns of Arrow's null type: {null_typed}"


@pytest.fixture(scope="module")
def disabled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleExport]:
    with dg.instance_for_test() as instance:
        yield build_export(tmp_path_factory.mktemp("disabled"), DISABLED_BATCH, instance)


@pytest.fixture(scope="module")
def fine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleExport]:
    with dg.instance_for_test() as instance:
        yield build_export(tmp_path_factory.mktemp("fine"), FINE_BATCH, instance)


def only_phone_file(export: SampleExport) -> Path:
    (batch_key,) = export.project.batch_keys()
    return export.project.storage.phones_file(batch_key)


def test_phone_files_have_same_schema(disabled: SampleExport, fine: SampleExport) -> None:
    disabled_schema = pq.read_schema(only_phone_file(disabled))
    fine_schema = pq.read_schema(only_phone_file(fine))

    assert_no_null_type(disabled_schema)
    assert field_list(disabled_schema) == field_list(fine_schema)
    assert field_list(disabled_schema) == field_list(PHONE_NUMBERS_SCHEMA)


def test_exports_have_same_schema(disabled: SampleExport, fine: SampleExport) -> None:
    disabled_schema = pq.read_schema(disabled.export_file)
    fine_schema = pq.read_schema(fine.export_file)

    assert_no_null_type(disabled_schema)
    assert field_list(disabled_schema) == field_list(fine_schema)
    assert field_list(disabled_schema) == field_list(PHONE_NUMBERS_SCHEMA)
    assert set(disabled_schema.metadata) == set(fine_schema.metadata)


def test_verify_ready_files_have_same_schema(disabled: SampleExport, fine: SampleExport) -> None:
    disabled_schema = pq.read_schema(disabled.outputs.verify_ready_parquet)
    fine_schema = pq.read_schema(fine.outputs.verify_ready_parquet)

    assert field_list(disabled_schema) == field_list(fine_schema)
    assert field_list(disabled_schema) == field_list(VERIFY_READY_SCHEMA)


def test_export_without_ok_rows(disabled: SampleExport) -> None:
    table = pq.read_table(disabled.export_file)
    assert table.num_rows == len(DISABLED_BATCH)
    assert set(table.column("status").to_pylist()) == {"export_disabled"}
    assert table.column("e164").null_count == len(DISABLED_BATCH)

    assert pq.read_table(disabled.outputs.verify_ready_parquet).num_rows == 0
    header = disabled.outputs.verify_ready_csv.read_text(encoding="utf-8").splitlines()
    assert header == [",".join(f'"{name}"' for name in VERIFY_READY_SCHEMA.names)]

    (materialization,) = disabled.result.asset_materializations_for_node("authy_phone_export")
    assert materialization.metadata["verify_ready_rows"].value == 0
    assert materialization.metadata["left_out_by_reason"].value == {
        "export_disabled": len(DISABLED_BATCH)
    }


@pytest.fixture(scope="module")
def empty(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dg.ExecuteInProcessResult]]:
    """An export materialized after the id list, before any batch is fetched."""
    with dg.instance_for_test() as instance:
        directory = tmp_path_factory.mktemp("empty")
        with sample_project(directory, FINE_BATCH, instance) as project:
            project.materialize_user_ids()
            result = project.materialize_export()
        yield project.storage.export_file, result


def test_export_without_rows(empty: tuple[Path, dg.ExecuteInProcessResult]) -> None:
    export_file, result = empty
    table = pq.read_table(export_file)
    assert table.num_rows == 0
    assert_no_null_type(table.schema)
    assert field_list(table.schema) == field_list(PHONE_NUMBERS_SCHEMA)
    assert read_file_metadata(export_file)["authy_assets.schema_version"] == EXPORT_SCHEMA_VERSION

    (materialization,) = result.asset_materializations_for_node("authy_phone_export")
    assert materialization.metadata["dagster/row_count"].value == 0
    assert materialization.metadata["batches_missing"].value == ["batch-000001"]

    outputs = export_outputs(export_file)
    verify_ready = pq.read_table(outputs.verify_ready_parquet)
    assert verify_ready.num_rows == 0
    assert field_list(verify_ready.schema) == field_list(VERIFY_READY_SCHEMA)
    assert outputs.summary_html.exists()
    # The summary states that the export lacks the users of the batch never fetched.
    page = outputs.summary_html.read_text(encoding="utf-8")
    users = materialization.metadata["users_without_row"].value
    assert users > 0
    assert f"Partial export: {users} users of the id list have no row yet." in page
    assert "batch-000001" in page
    assert "Partial export" in materialization.metadata["summary"].value


def test_empty_export_readers(empty: tuple[Path, dg.ExecuteInProcessResult]) -> None:
    export_file, _ = empty
    frame = pl.read_parquet(export_file)
    assert frame.columns == PHONE_NUMBERS_SCHEMA.names
    assert frame.height == 0
    with duckdb.connect() as connection:
        described = connection.execute(
            "DESCRIBE SELECT * FROM read_parquet(?)", [str(export_file)]
        ).fetchall()
    assert [row[0] for row in described] == PHONE_NUMBERS_SCHEMA.names
