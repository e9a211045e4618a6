"""Writing of every file of one export: the Parquet export, the verify-ready files, the summary."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from authy_assets.export.atomic import write_csv_atomically
from authy_assets.export.file_metadata import export_file_metadata
from authy_assets.export.outputs import ExportOutputs
from authy_assets.export.summary import ExportSummary, summarize_export
from authy_assets.export.summary_html import render_summary_html
from authy_assets.export.verify_ready import VerifyReadySelection, select_verify_ready
from authy_assets.files import write_bytes_atomically, write_parquet_atomically
from authy_assets.schema import EXPORT_SCHEMA_VERSION


@dataclass(frozen=True)
class WrittenExport:
    """Paths, key-value metadata and summary figures of one write_export call."""

    outputs: ExportOutputs
    written_at: datetime
    file_metadata: dict[str, str]
    verify_ready: VerifyReadySelection
    summary: ExportSummary


def write_export(
    table: pa.Table,
    outputs: ExportOutputs,
    written_at: datetime,
    *,
    users_without_row: int = 0,
    missing_batches: Sequence[str] = (),
) -> WrittenExport:
    """Write the export, the verify-ready CSV and Parquet files and the HTML summary.

    ``table`` must have PHONE_NUMBERS_SCHEMA. Both Parquet files carry the same key-value
    metadata (see file_metadata). Each file is replaced atomically with the private file mode,
    one after the other, so a reader may briefly see a new export next to the previous
    verify-ready files.
    """
    file_metadata = export_file_metadata(written_at)
    write_parquet_atomically(table.replace_schema_metadata(file_metadata), outputs.export_parquet)

    verify_ready = select_verify_ready(table)
    write_parquet_atomically(
        verify_ready.table.replace_schema_metadata(file_metadata), outputs.verify_ready_parquet
    )
    write_csv_atomically(verify_ready.table, outputs.verify_ready_csv)

    summary = summarize_export(
        table,
        verify_ready,
        users_without_row=users_without_row,
        missing_batches=missing_batches,
    )
    page = render_summary_html(summary, written_at, EXPORT_SCHEMA_VERSION)
    write_bytes_atomically(page.encode("utf-8"), outputs.summary_html)

    return WrittenExport(
        outputs=outputs,
        written_at=written_at,
        file_metadata=file_metadata,
        verify_ready=verify_ready,
        summary=summary,
    )
