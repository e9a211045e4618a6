"""Build a fresh export against the emulator and read it with PySpark in local mode.

Run it with `make check-spark`, which installs the `spark` extra; PySpark needs Java 17 or newer
on PATH. It checks that Spark reads the same rows as pyarrow, that the phone fields are the
exact strings sent, and that Spark's types are those of the Spark column in
authy_assets/docs/export-schema.md. It prints PASS or FAIL with every mismatch and exits with
status 1 on a mismatch. Spark binds to 127.0.0.1 and starts no web UI.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"


def _use_utc_and_loopback() -> None:
    # Spark's collect() returns naive datetimes in the Python process's local time zone, so
    # the process runs in UTC, as does the Spark session below.
    os.environ["TZ"] = "UTC"
    time.tzset()
    os.environ["SPARK_LOCAL_IP"] = LOOPBACK


def _spark_session() -> Any:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("authy-assets-check-spark")
        .config("spark.driver.host", LOOPBACK)
        .config("spark.driver.bindAddress", LOOPBACK)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _as_utc(row: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value.replace(tzinfo=UTC)
        if isinstance(value, datetime) and value.tzinfo is None
        else value
        for name, value in row.items()
    }


def check_export_with_spark(export_file: Path) -> tuple[int, list[str]]:
    """Read ``export_file`` with Spark and return the row count and every mismatch found."""
    import pyarrow.parquet as pq

    from authy_assets_tests.export_sample import (
        EXPECTED_STATUS,
        phone_field_differences,
        row_differences,
    )
    from authy_assets_tests.schema_doc import (
        READER_TYPES_MARKER,
        code_spans,
        markdown_table,
        read_schema_doc,
    )

    expected_rows = pq.read_table(export_file).sort_by("authy_id").to_pylist()
    problems = []
    statuses = {row["authy_id"]: row["status"] for row in expected_rows}
    if statuses != EXPECTED_STATUS:
        problems.append(f"pyarrow: statuses {statuses}, expected {EXPECTED_STATUS}")

    documented = {
        code_spans(row["column"])[0]: code_spans(row["Spark"])[0]
        for row in markdown_table(read_schema_doc(), READER_TYPES_MARKER)
    }

    spark = _spark_session()
    try:
        frame = spark.read.parquet(str(export_file))
        actual_types = {field.name: field.dataType.simpleString() for field in frame.schema}
        rows = [_as_utc(row.asDict()) for row in frame.orderBy("authy_id").collect()]
    finally:
        spark.stop()

    if list(actual_types) != list(documented):
        problems.append(f"Spark: columns {list(actual_types)}, documented {list(documented)}")
    for column, expected_type in documented.items():
        actual_type = actual_types.get(column)
        if actual_type != expected_type:
            problems.append(f"Spark: {column} is {actual_type}, documented {expected_type}")
    problems += row_differences("Spark", rows, expected_rows)
    problems += phone_field_differences("Spark", rows)
    return len(rows), problems


def main() -> int:
    _use_utc_and_loopback()
    import dagster as dg

    from authy_assets_tests.export_sample import build_sample_export

    with tempfile.TemporaryDirectory(prefix="authy-check-spark-") as directory:
        with dg.instance_for_test() as instance:
            sample = build_sample_export(Path(directory), instance)
        row_count, problems = check_export_with_spark(sample.export_file)

    if problems:
        print(f"check-spark FAIL: {len(problems)} mismatches between Spark and the export")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print(
        f"check-spark PASS: Spark read {row_count} rows with the same values as pyarrow,"
        " phone fields as the exact strings sent, and the documented Spark types"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
