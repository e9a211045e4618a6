"""The ``authy_phone_numbers`` asset and its checks: one validated row per user of a batch."""


from collections import Counter

import dagster as dg
import pyarrow.parquet as pq

from authy_assets.assets.metadata import dagster_table_schema
from authy_assets.assets.user_ids import batch_members
from authy_assets.files import write_parquet_atomically
from authy_assets.outcomes import user_outcomes
from authy_assets.partitions import batches_partitions
from authy_assets.phones import ExportStatus, build_phone_row
from authy_assets.resources import AuthyApiResource, AuthyStorageResource
from authy_assets.schema import PHONE_NUMBERS_SCHEMA, table_from_rows

# How many offending ids a check lists in its metadata; the count is always complete.
CHECK_ID_SAMPLE = 1000

CHECK_SPECS = [
    dg.AssetCheckSpec(
        "export_disabled_users",
        asset="authy_phone_numbers",
        description=(
            "Warns when users of the batch answered error 60154: phone number export is disabled"
            " for them, so their numbers are not in the export. The metadata has their count and"
            " up to 1,000 of their ids. Ask Twilio support to enable export for these users, or"
            " plan another way to reach them. A 60154 answer is final for the month, so the batch"
            " asks them again only in a later month, such as on the monthly refresh."
        ),
    ),
    dg.AssetCheckSpec(
        "users_not_found",
        asset="authy_phone_numbers",
        description=(
            "Warns when users of the batch answered error 60026: the Authy app has no such user."
            " The metadata has their count and up to 1,000 of their ids. Check whether they"
            " belong to another app or were deleted, and remove them from the id list if so."
        ),
    ),
    dg.AssetCheckSpec(
        "one_row_per_user",
        asset="authy_phone_numbers",
        blocking=True,
        description=(
            "Fails when the batch does not have exactly one row for each of its users; the"
            " metadata lists users without a row, with several rows and rows of other users. A"
            " failure is a bug in authy-assets: report it, then materialize the batch again."
            " Blocking, so nothing downstream runs in the same run."
        ),
    ),
    dg.AssetCheckSpec(
        "ok_rows_have_valid_e164",
        asset="authy_phone_numbers",
        description=(
            "Fails when an ok row's e164 is not strict E.164 or disagrees with country_code and"
            " phone_number. Twilio Verify rejects such numbers. The rows are kept, flagged in"
            " validation_problem, and up to 1,000 of their ids are in the metadata: correct these"
            " numbers before you import them into Verify."
        ),
    ),
]


@dg.asset(
    group_name="authy_export",
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
    partitions_def=batches_partitions,
    deps=["authy_raw_responses"],
    check_specs=CHECK_SPECS,
    description=(
        "One row per user of a batch: status (ok, user_not_found, export_disabled,"
        " quota_exhausted, or the failure left after retries), the phone fields as strings, and"
        " their validation with libphonenumber. Numbers that fail validation are flagged, never"
        " dropped."
    ),
)
def authy_phone_numbers(
    context: dg.AssetExecutionContext,
    authy_api: AuthyApiResource,
    authy_storage: AuthyStorageResource,
) -> dg.MaterializeResult:
    batch_key = context.partition_key
    authy_ids = batch_members(authy_storage, batch_key)
    raw_path = authy_storage.raw_file(batch_key)
    if not raw_path.exists():
        raise dg.Failure(
            f"{raw_path} does not exist: materialize authy_raw_responses for {batch_key} first"
        )
    requests = pq.read_table(raw_path).to_pylist()

    outcomes = user_outcomes(authy_ids, requests, monthly_quota=authy_api.monthly_quota)
    rows = [
        build_phone_row(
            authy_id=outcome.authy_id,
            batch_key=batch_key,
            status=outcome.status,
            error_code=outcome.error_code,
            http_status=outcome.http_status,
            body=outcome.body,
            fetched_at=outcome.fetched_at,
        )
        for outcome in outcomes
    ]
    table = table_from_rows(rows, PHONE_NUMBERS_SCHEMA)
    path = authy_storage.phones_file(batch_key)
    write_parquet_atomically(table, path)

    by_status = Counter(row["status"] for row in rows)
    users = f"{len(rows)} {'user' if len(rows) == 1 else 'users'}"
    context.log.info(f"{batch_key}: {users}, " + ", ".join(
        f"{count} {status}" for status, count in sorted(by_status.items())
    ))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "dagster/column_schema": dagster_table_schema(PHONE_NUMBERS_SCHEMA),
            "path": dg.MetadataValue.path(str(path)),
            "users_by_status": dg.MetadataValue.json(dict(sorted(by_status.items()))),
            "valid_numbers": sum(1 for row in rows if row["is_valid"]),
        },
        check_results=check_batch(batch_key, authy_ids, rows),
    )


def check_batch(
    batch_key: str, authy_ids: list[int], rows: list[dict]
) -> list[dg.AssetCheckResult]:
    """Evaluate the four checks of one batch's rows.

    Each result names its batch in its description and metadata, because the check history
    in the Dagster UI lists the results of every batch together.
    """
    disabled = [row["authy_id"] for row in rows if row["status"] == ExportStatus.export_disabled]
    not_found = [row["authy_id"] for row in rows if row["status"] == ExportStatus.user_not_found]

    row_counts = Counter(row["authy_id"] for row in rows)
    expected = set(authy_ids)
    missing = sorted(expected - row_counts.keys())
    repeated = sorted(authy_id for authy_id, count in row_counts.items() if count > 1)
    unexpected = sorted(row_counts.keys() - expected)

    bad_e164 = [
        row["authy_id"]
        for row in rows
        if row["status"] == ExportStatus.ok
        and not (row["e164_well_formed"] and row["e164_consistent"])
    ]
    return [
        _listing_check(
            "export_disabled_users", batch_key, disabled, dg.AssetCheckSeverity.WARN
        ),
        _listing_check("users_not_found", batch_key, not_found, dg.AssetCheckSeverity.WARN),
        dg.AssetCheckResult(
            check_name="one_row_per_user",
            passed=not (missing or repeated or unexpected),
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"{batch_key}: {len(rows)} {'row' if len(rows) == 1 else 'rows'} for"
                f" {len(expected)} {'user' if len(expected) == 1 else 'users'}"
            ),
            metadata={
                "batch": batch_key,
                "users": len(expected),
                "rows": len(rows),
                "users_without_row": dg.MetadataValue.json(missing[:CHECK_ID_SAMPLE]),
                "users_with_several_rows": dg.MetadataValue.json(repeated[:CHECK_ID_SAMPLE]),
                "rows_of_other_users": dg.MetadataValue.json(unexpected[:CHECK_ID_SAMPLE]),
            },
        ),
        _listing_check(
            "ok_rows_have_valid_e164", batch_key, bad_e164, dg.AssetCheckSeverity.ERROR
        ),
    ]


def _listing_check(
    name: str, batch_key: str, authy_ids: list[int], severity: dg.AssetCheckSeverity
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        passed=not authy_ids,
        severity=severity,
        description=f"{batch_key}: {len(authy_ids)} {'user' if len(authy_ids) == 1 else 'users'}",
        metadata={
            "batch": batch_key,
            "count": len(authy_ids),
            "authy_ids": dg.MetadataValue.json(sorted(authy_ids)[:CHECK_ID_SAMPLE]),
            "authy_ids_listed": min(len(authy_ids), CHECK_ID_SAMPLE),
        },
    )
