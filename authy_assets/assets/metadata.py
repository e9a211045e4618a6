"""Metadata helpers shared by the assets: column schemas and masked previews."""


import dagster as dg
import pyarrow as pa

from authy_assets.masking import mask_phone
from authy_assets.schema import column_descriptions

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
