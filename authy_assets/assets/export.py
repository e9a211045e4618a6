"""The ``authy_phone_export`` asset: every batch's phone rows in one analyst-facing file."""

from datetime import UTC, datetime

import dagster as dg

from authy_assets.assets.metadata import export_metadata
from authy_assets.export import collect_export_table, export_outputs, write_export
from authy_assets.resources import AuthyStorageResource

MISSING_BATCHES_LISTED = 20

DESCRIPTION = """\
Every batch's phone rows in one file, plus the users ready for Twilio Verify and a summary.

Writes, under the data directory (default `data/`):

- `exports/authy_phone_numbers.parquet`: one row per user of the current id list, sorted by
  `authy_id`, with the Arrow schema documented in `authy_assets/docs/export-schema.md`. Phone
  fields are strings, so leading zeros and `+` survive, and times are `timestamp[us, UTC]`.
  The Parquet key-value metadata carries `authy_assets.schema_version`.
- `exports/verify_ready.parquet` and `exports/verify_ready.csv`: the users with status `ok`
  and a well-formed, consistent, valid `e164` without extension, with `sms_capable`.
- `exports/authy_phone_numbers_summary.html`: users by status, region, number type, validity
  and readiness, as bar charts with counts only.

Each file is replaced atomically and is readable by its owner only unless
AUTHY_SHARE_WITH_GROUP=1. Read the export with DuckDB
(`SELECT * FROM 'data/exports/authy_phone_numbers.parquet'`), pandas
(`pd.read_parquet(path, dtype_backend="pyarrow")`), Polars (`pl.read_parquet(path)`) or Spark.
"""


@dg.asset(
    group_name="authy_export",
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
    deps=["authy_phone_numbers"],
    description=DESCRIPTION,
)
def authy_phone_export(
    context: dg.AssetExecutionContext, authy_storage: AuthyStorageResource
) -> dg.MaterializeResult:
    collected = collect_export_table(authy_storage)
    missing = collected.missing_batches
    if missing:
        context.log.warning(
            f"{len(missing)} of {len(collected.batch_keys)} batches"
            f" {'has' if len(missing) == 1 else 'have'} no phone table yet and"
            f" {'is' if len(missing) == 1 else 'are'} left out of the export:"
            f" {', '.join(missing[:MISSING_BATCHES_LISTED])};"
            " materialize authy_phone_numbers for them"
        )

    written = write_export(
        collected.table,
        export_outputs(authy_storage.export_file),
        datetime.now(UTC),
        users_without_row=collected.users_without_row,
        missing_batches=collected.missing_batches,
    )

    by_status = written.summary.by_status
    context.log.info(
        f"export written: {collected.table.num_rows}"
        f" {'user' if collected.table.num_rows == 1 else 'users'} from {collected.batches_read}"
        f" {'batch' if collected.batches_read == 1 else 'batches'}, "
        + ", ".join(f"{count} {status}" for status, count in sorted(by_status.items()))
        + f"; {written.verify_ready.ready_rows} verify-ready"
    )
    return dg.MaterializeResult(metadata=export_metadata(collected, written))
