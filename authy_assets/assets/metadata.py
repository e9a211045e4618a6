"""Metadata helpers shared by the assets: column schemas, masked previews, export figures."""


import dagster as dg
import pyarrow as pa

from authy_assets.export import CollectedExport, WrittenExport, summary_markdown
from authy_assets.masking import mask_phone
from authy_assets.schema import EXPORT_SCHEMA_VERSION, PHONE_NUMBERS_SCHEMA, column_descriptions

PREVIEW_ROWS = 10
_PHONE_COLUMNS = ("phone_number", "e164")
_PREVIEW_COLUMNS = ("authy_id", "status", "country_code", "e164", "region_code", "is_valid")


def dagster_table_schema(schema: pa.Schema) -> dg.TableSchema:
    """Describe an Arrow schema for the Dagster UI, one column a row."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, type_name, description=description)
            for name, type_name, description in column_descriptions(schema)
        ]
    )


def masked_preview(table: pa.Table, rows: int = PREVIEW_ROWS) -> str:
    """Render the first rows as a Markdown table with every phone number masked."""
    head = table.slice(0, rows).select(list(_PREVIEW_COLUMNS)).to_pylist()
    lines = [
        "| " + " | ".join(_PREVIEW_COLUMNS) + " |",
        "|" + "---|" * len(_PREVIEW_COLUMNS),
    ]
    for row in head:
        cells = []
        for name in _PREVIEW_COLUMNS:
            value = row[name]
            if name in _PHONE_COLUMNS:
                cells.append(mask_phone(value))
            elif value is None:
                cells.append("")
            else:
                cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def export_metadata(collected: CollectedExport, written: WrittenExport) -> dict[str, object]:
    """Build the materialization metadata of authy_phone_export: counts and paths, no number."""
    table = collected.table
    outputs = written.outputs
    return {
        "dagster/row_count": table.num_rows,
        "dagster/column_schema": dagster_table_schema(PHONE_NUMBERS_SCHEMA),
        "path": dg.MetadataValue.path(str(outputs.export_parquet)),
        "schema_version": EXPORT_SCHEMA_VERSION,
        "written_at": written.written_at.isoformat(),
        "users_by_status": dg.MetadataValue.json(dict(sorted(written.summary.by_status.items()))),
        "batches": collected.batches_read,
        "batches_missing": dg.MetadataValue.json(collected.missing_batches),
        "users_without_row": collected.users_without_row,
        "verify_ready_rows": written.verify_ready.ready_rows,
        "left_out_by_reason": dg.MetadataValue.json(written.verify_ready.left_out_by_reason),
        "verify_ready_csv": dg.MetadataValue.path(str(outputs.verify_ready_csv)),
        "verify_ready_parquet": dg.MetadataValue.path(str(outputs.verify_ready_parquet)),
        "summary_html": dg.MetadataValue.path(str(outputs.summary_html)),
        "summary": dg.MetadataValue.md(summary_markdown(written.summary)),
        "preview": dg.MetadataValue.md(masked_preview(table)),
    }
