"""The ``authy_raw_responses`` asset: every request of the month for one batch, with its response."""


from collections import Counter
from datetime import UTC, datetime

import dagster as dg

from authy_assets.assets.user_ids import batch_members
from authy_assets.assets.metadata import dagster_table_schema
from authy_assets.client.fetch import FetchProgress, fetch_users
from authy_assets.client.store import LedgerRow, RequestLedger, month_of
from authy_assets.files import write_parquet_atomically
from authy_assets.partitions import batches_partitions
from authy_assets.preflight import KEY_TEST_TAG
from authy_assets.resources import AuthyApiResource, AuthyStorageResource
from authy_assets.schema import RAW_RESPONSES_SCHEMA, table_from_rows


@dg.asset(
    group_name="authy_export",
    kinds={"python", "parquet"},
    owners=["team:data-engineering"],
    partitions_def=batches_partitions,
    deps=["authy_user_ids"],
    pool="authy_api",
    description=(
        "Every request sent this month (UTC) to Authy's phone-number export endpoint for the"
        " users of one batch, with the answer as it arrived: HTTP status, error code, body,"
        " attempt and duration. Users who already have a final answer this month are not asked"
        " again, and no user is sent more than the monthly quota."
    ),
)
def authy_raw_responses(
    context: dg.AssetExecutionContext,
    authy_api: AuthyApiResource,
    authy_storage: AuthyStorageResource,
) -> dg.MaterializeResult:
    batch_key = context.partition_key
    authy_ids = batch_members(authy_storage, batch_key)
    settings = authy_api.fetch_settings()

    def log_progress(progress: FetchProgress) -> None:
        left = "unknown" if progress.seconds_left is None else f"about {progress.seconds_left:.0f} s"
        context.log.info(
            f"{batch_key}: {progress.users_done}/{progress.users_total} users done,"
            f" {progress.requests_sent} requests at {progress.requests_per_minute:.0f}/min,"
            f" time left {left}"
        )

    report = fetch_users(
        settings,
        authy_ids,
        batch_key=batch_key,
        run_id=context.run.run_id,
        earlier_run_ids=[tag for tag in [context.run.tags.get(KEY_TEST_TAG)] if tag],
        on_progress=log_progress,
        log=context.log,
    )

    # A fetch that runs past midnight UTC at the end of a month has requests in both months.
    months = sorted({month_of(report.started_at), month_of(report.finished_at)})
    month = months[-1]
    with RequestLedger(settings.ledger_path, settings.api_scope) as ledger:
        rows = [row for each in months for row in ledger.rows_for(authy_ids, month=each)]
    table = table_from_rows([_raw_row(row, batch_key) for row in rows], RAW_RESPONSES_SCHEMA)
    path = authy_storage.raw_file(batch_key)
    write_parquet_atomically(table, path)

    context.log.info(
        f"{batch_key}: {report.requests_sent}"
        f" {'request' if report.requests_sent == 1 else 'requests'} sent for {len(authy_ids)}"
        f" {'user' if len(authy_ids) == 1 else 'users'} in"
        f" {report.seconds:.1f} s; {report.users_skipped} already answered this month"
    )
    statuses_this_month = Counter(row.status or "no_answer" for row in rows)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "dagster/column_schema": dagster_table_schema(RAW_RESPONSES_SCHEMA),
            "path": dg.MetadataValue.path(str(path)),
            "month": month,
            "users": len(authy_ids),
            "requests_made": report.requests_sent,
            "users_skipped_final_answer": report.users_skipped,
            "users_quota_exhausted": report.users_quota_exhausted,
            "responses_this_run": dg.MetadataValue.json(dict(report.responses_by_status)),
            "responses_this_month": dg.MetadataValue.json(dict(statuses_this_month)),
            "requests_per_minute": round(report.requests_per_minute, 1),
            "fetch_seconds": round(report.seconds, 2),
        }
    )


def _raw_row(row: LedgerRow, batch_key: str) -> dict:
    return {
        "authy_id": row.authy_id,
        "batch_key": row.batch_key or batch_key,
        "requested_at": _utc(row.requested_at),
        "received_at": _utc(row.received_at),
        "attempt": row.attempt,
        "http_status": row.http_status,
        "error_code": row.error_code,
        "status": row.status or "no_answer",
        "outcome": row.outcome or "no_answer",
        "content_type": row.content_type,
        "body": row.body,
        "duration_ms": row.duration_ms,
        "counted": row.counted,
        "run_id": row.run_id,
    }


def _utc(epoch_seconds: float | None) -> datetime | None:
    return None if epoch_seconds is None else datetime.fromtimestamp(epoch_seconds, UTC)
