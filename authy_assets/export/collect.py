"""Collection of every batch's phone rows into the table that the export writes."""

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from authy_assets.resources import AuthyStorageResource
from authy_assets.schema import PHONE_NUMBERS_SCHEMA


@dataclass(frozen=True)
class CollectedExport:
    """Rows of the export, sorted by authy_id, and the batches they came from."""

    table: pa.Table
    batch_keys: list[str]
    batches_read: int
    missing_batches: list[str]
    users_without_row: int


def collect_export_table(storage: AuthyStorageResource) -> CollectedExport:
    """Read the phone table of every batch of the current id list into one table.

    Batches without a phone table yet are listed in ``missing_batches``, and users removed
    from the id list since their batch was fetched are left out. The table has exactly
    PHONE_NUMBERS_SCHEMA, also when it has no rows.
    """
    user_ids = pq.read_table(storage.user_ids_file)
    batch_keys = sorted(set(user_ids.column("batch_key").to_pylist()))

    tables = []
    missing = []
    for batch_key in batch_keys:
        path = storage.phones_file(batch_key)
        if path.exists():
            tables.append(pq.read_table(path, schema=PHONE_NUMBERS_SCHEMA))
        else:
            missing.append(batch_key)

    table = pa.concat_tables(tables) if tables else PHONE_NUMBERS_SCHEMA.empty_table()
    table = table.filter(pc.is_in(table.column("authy_id"), user_ids.column("authy_id")))
    table = table.sort_by([("authy_id", "ascending")]).cast(PHONE_NUMBERS_SCHEMA)
    return CollectedExport(
        table=table,
        batch_keys=batch_keys,
        batches_read=len(tables),
        missing_batches=missing,
        users_without_row=len(user_ids) - len(table),
    )
