"""Sensors and the monthly schedule that keep the export current without manual steps."""


import hashlib
import time
from pathlib import Path

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus

from authy_assets.jobs import export_job, fetch_batch_job, user_ids_job
from authy_assets.partitions import BATCHES_PARTITION_NAME
from authy_assets.preflight import current_batch_keys
from authy_assets.resources import AuthyStorageResource

_RUNNING_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]

# A run that is not queued but has stored no event for this long is taken for dead. A run killed
# with SIGKILL or lost with its machine stays STARTED in the instance for good. A live fetch run
# logs its progress every 10 s (progress_interval_seconds), and Dagster 1.13 logs a step that
# waits for a concurrency pool slot every 5 min. Before its first request a fetch can wait
# without logging for a rate-limit pause of up to 15 min (max_retry_after_seconds), so the
# threshold is twice that.
STALE_RUN_SECONDS = 30 * 60
_BATCH_ASSETS = frozenset(
    {dg.AssetKey("authy_raw_responses"), dg.AssetKey("authy_phone_numbers")}
)
# Run ids named in a skip reason or a log line; the rest are counted.
_LISTED_RUNS = 5


def file_digest(path: Path) -> str:
    """Return the hex SHA-256 of a file's content, which the id-list sensor stores as its cursor."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dg.sensor(
    name="authy_user_ids_sensor",
    jobs=[user_ids_job, fetch_batch_job],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Watches the id list. When its content changes, materializes authy_user_ids, which"
        " registers batches for the new users; then requests one fetch run for each batch that"
        " has never been materialized. Batches fetched before are not run again. Evaluated at"
        " most once a minute; off by default."
    ),
)
def authy_user_ids_sensor(
    context: dg.SensorEvaluationContext, authy_storage: AuthyStorageResource
) -> dg.SensorResult | dg.SkipReason:
    source = Path(authy_storage.user_ids_path)
    if not source.exists():
        return dg.SkipReason(f"the id list {source} does not exist; set AUTHY_USER_IDS")

    digest = file_digest(source)
    run_requests = []
    if digest != context.cursor:
        # The request has no run key because the cursor already limits each change of content
        # to one run. A run key made from the digest would skip a list restored to earlier content.
        run_requests.append(dg.RunRequest(job_name=user_ids_job.name))

    materialized = context.instance.get_materialized_partitions(
        dg.AssetKey("authy_phone_numbers")
    )
    for batch_key in _current_batches(context.instance, authy_storage):
        if batch_key not in materialized:
            run_requests.append(
                dg.RunRequest(
                    run_key=f"new-batch-{batch_key}",
                    job_name=fetch_batch_job.name,
                    partition_key=batch_key,
                )
            )
    if not run_requests:
        return dg.SkipReason("the id list is unchanged and every batch has been fetched")
    return dg.SensorResult(run_requests=run_requests, cursor=digest)


@dg.sensor(
    name="authy_export_sensor",
    job=export_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Rebuilds the export once batches have been fetched: when a batch's phone table is newer"
        " than the export, no backfill of the batch assets is in progress, and no run that"
        " fetches or validates a batch is queued or running (authy_fetch_batch_job, or runs"
        " launched from the asset graph). A fetch run that has stored no event for 30 minutes"
        " is taken for killed and not waited for."
    ),
)
def authy_export_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    instance = context.instance
    phones = _latest_materialization(instance, dg.AssetKey("authy_phone_numbers"))
    if phones is None:
        return dg.SkipReason("no batch has been fetched yet")
    # Storage ids grow in the order the instance stored the events, unlike timestamps taken on
    # the clocks of different run workers.
    export = _latest_materialization(instance, dg.AssetKey("authy_phone_export"))
    if export is not None and export.storage_id > phones.storage_id:
        return dg.SkipReason("the export is newer than every batch")
    backfills = _batch_backfills_in_progress(instance)
    if backfills:
        return dg.SkipReason(
            f"the export waits for backfill {', '.join(backfills[:_LISTED_RUNS])} of the batch"
            " assets to finish"
        )
    active, stale = _fetch_runs_in_progress(instance)
    ignored = (
        f" (not waiting for {_list_runs(stale)}, which stored no event for"
        f" {STALE_RUN_SECONDS // 60} min)"
        if stale
        else ""
    )
    if active:
        return dg.SkipReason(
            f"fetch runs are still queued or running, so the export waits for"
            f" {_list_runs(active)}{ignored}"
        )
    if stale:
        context.log.warning(
            f"requesting the export without waiting for fetch {_list_runs(stale)}: the instance"
            f" shows them running, but they stored no event for {STALE_RUN_SECONDS // 60} min and"
            " were probably killed. Terminate such runs in the Dagster UI to mark them finished"
        )
    return dg.RunRequest(run_key=f"export-after-{phones.storage_id}")


def _fetch_runs_in_progress(instance: dg.DagsterInstance) -> tuple[list[str], list[str]]:
    """Return the ids of fetch runs in progress: those still alive and those taken for dead.

    A queued run is always alive, because it may wait for a free slot for hours without
    storing an event.
    """
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=_RUNNING_STATUSES))
    now = time.time()
    active = []
    stale = []
    for record in records:
        run = record.dagster_run
        # Runs launched from the asset graph belong to an implicit asset job, so the assets
        # they materialize tell them apart, not the job name.
        if run.job_name != fetch_batch_job.name and not (run.asset_selection or set()) & (
            _BATCH_ASSETS
        ):
            continue
        if run.status == dg.DagsterRunStatus.QUEUED:
            active.append(run.run_id)
        elif now - _last_activity(instance, record) > STALE_RUN_SECONDS:
            stale.append(run.run_id)
        else:
            active.append(run.run_id)
    return active, stale


def _batch_backfills_in_progress(instance: dg.DagsterInstance) -> list[str]:
    """Return the ids of backfills still launching runs of the batch assets."""
    backfills = instance.get_backfills(status=BulkActionStatus.REQUESTED)
    return [
        backfill.backfill_id
        for backfill in backfills
        if backfill.asset_selection is None or set(backfill.asset_selection) & _BATCH_ASSETS
    ]


def _last_activity(instance: dg.DagsterInstance, record: dg.RunRecord) -> float:
    """Return the time of the run's newest event, or of its last status change without events."""
    events = instance.get_records_for_run(record.dagster_run.run_id, limit=1, ascending=False)
    if events.records:
        return events.records[0].event_log_entry.timestamp
    return record.update_timestamp.timestamp()


def _list_runs(run_ids: list[str]) -> str:
    listed = ", ".join(run_ids[:_LISTED_RUNS])
    if len(run_ids) > _LISTED_RUNS:
        listed += f" and {len(run_ids) - _LISTED_RUNS} more"
    return f"run {listed}" if len(run_ids) == 1 else f"runs {listed}"


def _latest_materialization(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey
) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(asset_key, limit=1).records
    return records[0] if records else None


@dg.schedule(
    name="authy_monthly_refresh",
    job=fetch_batch_job,
    cron_schedule="0 6 1 * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description=(
        "On the first of each month (06:00 UTC), fetches every batch again. It spends one of"
        " each user's three monthly requests; authy_export_sensor then rebuilds the export."
        " Off by default."
    ),
)
def authy_monthly_refresh(
    context: dg.ScheduleEvaluationContext, authy_storage: AuthyStorageResource
) -> list[dg.RunRequest] | dg.SkipReason:
    if not authy_storage.user_ids_file.exists():
        return dg.SkipReason(
            f"{authy_storage.user_ids_file} does not exist yet; materialize authy_user_ids first"
        )
    month = context.scheduled_execution_time.strftime("%Y-%m")
    return [
        dg.RunRequest(run_key=f"{month}-{batch_key}", partition_key=batch_key)
        for batch_key in _current_batches(context.instance, authy_storage)
    ]


def _current_batches(instance: dg.DagsterInstance, storage: AuthyStorageResource) -> list[str]:
    """Return the registered batch partitions that hold users of the current id list.

    The instance keeps the partitions of earlier id lists and of other data directories on the
    same DAGSTER_HOME; fetching those would only start empty runs.
    """
    if not storage.user_ids_file.exists():
        return []
    current = set(current_batch_keys(storage.user_ids_file))
    return [key for key in instance.get_dynamic_partitions(BATCHES_PARTITION_NAME) if key in current]
