"""Reader of Parquet id lists, one record batch of the ``authy_id`` column at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from authy_assets.ids.cells import (
    EMPTY_ID_CELL,
    ID_COLUMN,
    INT64_MAX,
    NEGATIVE,
    TOO_LARGE,
    ZERO,
    id_column_index,
    is_id_column,
    parse_id_cell,
)
from authy_assets.ids.results import IdCollector, IdListError


PARQUET_BATCH_ROWS = 65_536


def read_parquet(path: Path, collector: IdCollector) -> int:
    """Collect the ids of the ``authy_id`` column one record batch at a time, and count the rows."""
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise IdListError(
            f"User id list {path} is not a readable Parquet file ({err}); write it again."
        ) from None
    names = list(parquet.schema_arrow.names)
    if not any(is_id_column(name) for name in names):
        raise IdListError(
            f"User id list {path} has no {ID_COLUMN} column (columns found: {names}); write it"
            f" again with the ids in a column named {ID_COLUMN}."
        )
    name = names[id_column_index(names, path)]
    column_type = parquet.schema_arrow.field(name).type
    if pa.types.is_dictionary(column_type):
        column_type = column_type.value_type
    is_integer = pa.types.is_integer(column_type)
    if not (is_integer or pa.types.is_string(column_type) or pa.types.is_large_string(column_type)):
        raise IdListError(
            f"User id list {path} has an {ID_COLUMN} column of type {column_type}; write the ids"
            " as int64 or as strings of digits."
        )

    rows = 0
    try:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=[name]):
            column = batch.column(0)
            if isinstance(column, pa.DictionaryArray):
                column = column.dictionary_decode()
            if is_integer:
                _collect_int_column(column, rows, collector)
            else:
                _collect_string_column(column, rows, collector)
            rows += len(column)
    except (pa.ArrowException, OSError) as err:
        raise IdListError(
            f"User id list {path} is a damaged Parquet file near row {rows + 1} ({err});"
            " write it again."
        ) from None
    return rows


def _collect_int_column(column: pa.Array, first_row: int, collector: IdCollector) -> None:
    nulls = column.is_null().to_numpy(zero_copy_only=False)
    values = column.fill_null(1).to_numpy(zero_copy_only=False)
    if values.dtype.kind == "u":
        too_large = values > np.uint64(INT64_MAX)
    else:
        too_large = np.zeros(len(values), dtype=bool)
    signed = values.astype(np.int64)
    invalid = nulls | too_large | (signed < 1)
    for index in np.flatnonzero(invalid).tolist():
        if nulls[index]:
            reason = EMPTY_ID_CELL
        elif too_large[index]:
            reason = TOO_LARGE
        else:
            reason = ZERO if signed[index] == 0 else NEGATIVE
        raw = "" if nulls[index] else str(values[index])
        collector.reject(first_row + index + 1, raw, reason)
    for value in signed[~invalid].tolist():
        collector.accept(value)


def _collect_string_column(column: pa.Array, first_row: int, collector: IdCollector) -> None:
    for index, cell in enumerate(column.to_pylist()):
        value = EMPTY_ID_CELL if cell is None else parse_id_cell(cell)
        if isinstance(value, int):
            collector.accept(value)
        else:
            # A Parquet row always exists, so a null or blank id cell is a reject, not a skip.
            collector.reject(first_row + index + 1, cell or "", value or EMPTY_ID_CELL)
