"""The ``authy_user_ids`` asset: the id list, validated and split into batches."""


from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from authy_assets.batches import BatchAssignments
from authy_assets.files import ensure_private_dir, make_private, write_parquet_atomically
from authy_assets.ids import read_user_ids
from authy_assets.partitions import BATCHES_PARTITION_NAME
from authy_assets.resources import AuthyStorageResource

USER_IDS_SCHEMA = pa.schema(
    [
        pa.field("authy_id", pa.int64(), nullable=False),
        pa.field("batch_key", pa.string(), nullable=False),
    ]
)

REJECT_SAMPLE_SIZE = 20


@dg.asset(
    group_name="authy_export",
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
    description=(
        "Distinct Authy user ids from the id list (CSV, plain text or Parquet), each assigned to a"
        " batch of AUTHY_BATCH_SIZE users. A user keeps its batch when ids are added to the list."
        " Rejected lines are listed with their line number and reason in"
        " state/authy_user_ids_rejected.csv under AUTHY_DATA_DIR; the valid ids are still used."
    ),
)
def authy_user_ids(
    context: dg.AssetExecutionContext, authy_storage: AuthyStorageResource
) -> dg.MaterializeResult:
    source = Path(authy_storage.user_ids_path)
    # Existing directories get the current mode too, so that a change of AUTHY_SHARE_WITH_GROUP
    # reaches the data directory, which no file is written to directly.
    ensure_private_dir(authy_storage.root)
    ensure_private_dir(authy_storage.state_dir)
    id_list = read_user_ids(source, rejects_path=authy_storage.rejects_file)
    make_private(authy_storage.rejects_file)
    if not len(id_list.ids):
        raise dg.Failure(
            f"the id list {source} has no valid user ids ({id_list.rejected_count}"
            f" {'line was' if id_list.rejected_count == 1 else 'lines were'} rejected, see"
            f" {authy_storage.rejects_file}): fix the file or point AUTHY_USER_IDS at"
            " another one"
        )

    if id_list.rejected_count:
        context.log.warning(
            f"{id_list.rejected_count}"
            f" {'line' if id_list.rejected_count == 1 else 'lines'} of {source}"
            f" {'was' if id_list.rejected_count == 1 else 'were'} rejected; the first is line"
            f" {id_list.rejects[0].line_number}: {id_list.rejects[0].reason}"
        )

    assignments = BatchAssignments(authy_storage.batches_db, authy_storage.batch_size)
    result = assignments.assign(id_list.ids)
    frame = assignments.assignment_frame(id_list.ids)
    table = pa.Table.from_pandas(frame, schema=USER_IDS_SCHEMA, preserve_index=False)
    write_parquet_atomically(table, authy_storage.user_ids_file)

    batch_keys = sorted(set(frame["batch_key"]))
    context.instance.add_dynamic_partitions(BATCHES_PARTITION_NAME, batch_keys)
    context.log.info(
        f"{len(table)} distinct user {'id' if len(table) == 1 else 'ids'} in {len(batch_keys)}"
        f" {'batch' if len(batch_keys) == 1 else 'batches'}"
        f" ({len(result.new_batch_keys)} new); {id_list.duplicates} duplicates collapsed"
    )

    sample = [
        {"line": reject.line_number, "reason": reject.reason}
        for reject in id_list.rejects[:REJECT_SAMPLE_SIZE]
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "dagster/column_schema": dg.TableSchema(
                columns=[
                    dg.TableColumn("authy_id", "int64", description="Authy user id."),
                    dg.TableColumn("batch_key", "string", description="Batch partition key."),
                ]
            ),
            "source": dg.MetadataValue.path(str(source)),
            "path": dg.MetadataValue.path(str(authy_storage.user_ids_file)),
            "batches": len(batch_keys),
            "new_batches": dg.MetadataValue.json(result.new_batch_keys),
            "duplicates_collapsed": id_list.duplicates,
            "rejected_lines": id_list.rejected_count,
            "rejected_sample": dg.MetadataValue.json(sample),
            "rejects_file": dg.MetadataValue.path(str(authy_storage.rejects_file)),
        }
    )


def batch_members(authy_storage: AuthyStorageResource, batch_key: str) -> list[int]:
    """Return the ids of one batch as the last ``authy_user_ids`` materialization listed them."""
    path = authy_storage.user_ids_file
    if not path.exists():
        raise dg.Failure(
            f"{path} does not exist: materialize authy_user_ids before the batch assets"
        )
    table = pq.read_table(path, filters=pc.field("batch_key") == batch_key)
    return sorted(table.column("authy_id").to_pylist())
