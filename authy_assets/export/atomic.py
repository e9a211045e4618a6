"""Atomic CSV writes with the private modes of authy_assets.files."""

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

from authy_assets.files import write_bytes_atomically


def write_csv_atomically(table: pa.Table, path: Path) -> None:
    """Write ``table`` as UTF-8 CSV with a header row, atomically and with ``file_mode()``.

    Strings are quoted and booleans are written as true and false. pandas and DuckDB infer
    types despite the quotes (pandas reads "+14155550100" as an integer), so read phone
    columns as text, such as with ``pd.read_csv(path, dtype=str)``.
    """
    buffer = io.BytesIO()
    options = pa_csv.WriteOptions(include_header=True, quoting_style="needed")
    pa_csv.write_csv(table, buffer, write_options=options)
    write_bytes_atomically(buffer.getvalue(), path)
