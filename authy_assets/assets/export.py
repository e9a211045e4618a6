"""The ``authy_phone_export`` asset: every batch's phone rows in one analyst-facing file."""


from collections import Counter

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from authy_assets.assets.metadata import dagster_table_schema, masked_preview
from authy_assets.files import write_parquet_atomically
from authy_assets.resources import AuthyStorageResource
from authy_assets.schema import PHONE_NUMBERS_SCHEMA


@dg.asset(
    group_name="authy_export",
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
    deps=["authy_phone_numbers"],
    description=(
        "data/exports/authy_phone_numbers.parquet: the phone rows of every batch in one file with"
        " a fixed Arrow schema (int64 ids, string phone fields, timestamp[us, UTC] times). The"
        " file is replaced atomically, so readers never see a half-written file. The e164 column"
        " of rows with status ok and is_valid true is what Twilio Verify accepts."
    ),
)
def authy_phone_export(
    context: dg.AssetExecutionContext, authy_storage: AuthyStorageResource
) -> dg.MaterializeResult:
    user_ids = pq.read_table(authy_storage.user_ids_file)
    batch_keys = sorted(set(user_ids.column("batch_key").to_pylist()))

    tables = []
    missing = []
    for batch_key in batch_keys:
        path = authy_storage.phones_file(batch_key)
        if path.exists():
            tables.append(pq.read_table(path, schema=PHONE_NUMBERS_SCHEMA))
        else:
            missing.append(batch_key)
    if missing:
        context.log.warning(
            f"{len(missing)} of {len(batch_keys)} batches have no phone table yet and are left out"
            f" of the export: {', '.join(missing[:20])}; materialize authy_phone_numbers for them"
        )

    table = pa.concat_tables(tables) if tables else PHONE_NUMBERS_SCHEMA.empty_table()
    # Users removed from the id list since their batch was fetched are left out.
    table = table.filter(pc.is_in(table.column("authy_id"), user_ids.column("authy_id")))
    table = table.sort_by([("authy_id", "ascending")]).cast(PHONE_NUMBERS_SCHEMA)
    write_parquet_atomically(table, authy_storage.export_file)

    users_without_row = len(user_ids) - len(table)
    by_status = Counter(table.column("status").to_pylist())
    context.log.info(
        f"export written: {len(table)} users from {len(tables)} batches, "
        + ", ".join(f"{count} {status}" for status, count in sorted(by_status.items()))
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "dagster/column_schema": dagster_table_schema(PHONE_NUMBERS_SCHEMA),
            "path": dg.MetadataValue.path(str(authy_storage.export_file)),
            "users_by_status": dg.MetadataValue.json(dict(sorted(by_status.items()))),
            "batches": len(tables),
            "batches_missing": dg.MetadataValue.json(missing),
            "users_without_row": users_without_row,
            "preview": dg.MetadataValue.md(masked_preview(table)),
        }
    )
