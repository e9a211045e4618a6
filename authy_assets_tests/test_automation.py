"""The two sensors and the monthly schedule, evaluated against a real temporary instance."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import make_new_run_id

from authy_assets.automation import (
    STALE_RUN_SECONDS,
    authy_export_sensor,
    authy_monthly_refresh,
    authy_user_ids_sensor,
    file_digest,
)
from authy_assets.jobs import export_job, fetch_batch_job, user_ids_job
from authy_assets.partitions import BATCHES_PARTITION_NAME
from authy_assets.resources import AuthyStorageResource

# Both the emulator and the client allow this many requests a minute, so no test waits for
# the 1500-a-minute spacing of the real API.
FAST_RATE_LIMIT = 60_000


@pytest.fixture
def fast_project(start_authy_emulator, make_project):
    """Return a factory of projects with batches of 10 users against a fast emulator."""
    emulator = start_authy_emulator(rate_limit=FAST_RATE_LIMIT)

    def make(authy_ids: list[int]):
        project = make_project(emulator.url, authy_ids, rate_limit=FAST_RATE_LIMIT)
        project.batch_size = 10
        return project

    return make


def tick_user_ids_sensor(project, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(
        instance=project.instance,
        cursor=cursor,
        resources={"authy_storage": project.storage},
    )
    return authy_user_ids_sensor(context)


def tick_export_sensor(instance: dg.DagsterInstance) -> dg.RunRequest | dg.SkipReason:
    return authy_export_sensor(dg.build_sensor_context(instance=instance))


def fetch_requests(result: dg.SensorResult) -> list[dg.RunRequest]:
    return [request for request in result.run_requests if request.job_name == fetch_batch_job.name]


def ids_requests(result: dg.SensorResult) -> list[dg.RunRequest]:
    return [request for request in result.run_requests if request.job_name == user_ids_job.name]


def test_user_ids_sensor_first_tick_requests_ids_run(fast_project):
    project = fast_project(list(range(1, 26)))

    result = tick_user_ids_sensor(project, cursor=None)

    assert isinstance(result, dg.SensorResult)
    assert [request.job_name for request in result.run_requests] == [user_ids_job.name]
    assert result.cursor == file_digest(project.user_ids_path)


def test_user_ids_sensor_unchanged_list_skips(fast_project):
    project = fast_project(list(range(1, 26)))
    cursor = file_digest(project.user_ids_path)

    result = tick_user_ids_sensor(project, cursor=cursor)

    assert isinstance(result, dg.SkipReason)
    assert "unchanged" in (result.skip_message or "")


def test_user_ids_sensor_requests_new_batches_only(fast_project):
    project = fast_project(list(range(1, 26)))
    cursor = file_digest(project.user_ids_path)
    project.materialize_user_ids()
    first_batches = project.batch_keys()
    assert first_batches == ["batch-000001", "batch-000002", "batch-000003"]

    after_ids = tick_user_ids_sensor(project, cursor=cursor)

    assert isinstance(after_ids, dg.SensorResult)
    assert ids_requests(after_ids) == []
    first_fetches = fetch_requests(after_ids)
    assert [request.partition_key for request in first_fetches] == first_batches
    first_run_keys = [request.run_key for request in first_fetches]
    assert len(set(first_run_keys)) == len(first_batches)
    assert after_ids.cursor == cursor

    for batch_key in first_batches:
        project.materialize_batch(batch_key)
    with open(project.user_ids_path, "a") as ids_file:
        ids_file.write("".join(f"{authy_id}\n" for authy_id in range(26, 46)))

    after_append = tick_user_ids_sensor(project, cursor=cursor)

    assert isinstance(after_append, dg.SensorResult)
    assert len(ids_requests(after_append)) == 1
    assert fetch_requests(after_append) == []
    new_cursor = after_append.cursor
    assert new_cursor == file_digest(project.user_ids_path)
    assert new_cursor != cursor

    project.materialize_user_ids()
    after_new_ids = tick_user_ids_sensor(project, cursor=new_cursor)

    assert isinstance(after_new_ids, dg.SensorResult)
    assert ids_requests(after_new_ids) == []
    new_fetches = fetch_requests(after_new_ids)
    assert [request.partition_key for request in new_fetches] == ["batch-000004", "batch-000005"]
    new_run_keys = {request.run_key for request in new_fetches}
    assert len(new_run_keys) == 2
    assert new_run_keys.isdisjoint(first_run_keys)


def test_user_ids_sensor_rereads_restored_list(fast_project):
    project = fast_project(list(range(1, 26)))
    original = project.user_ids_path.read_text()
    first = tick_user_ids_sensor(project, cursor=None)
    project.user_ids_path.write_text(original + "26\n")
    second = tick_user_ids_sensor(project, cursor=first.cursor)
    project.user_ids_path.write_text(original)

    restored = tick_user_ids_sensor(project, cursor=second.cursor)

    assert isinstance(restored, dg.SensorResult)
    assert restored.cursor == first.cursor
    ids_runs = ids_requests(restored)
    assert len(ids_runs) == 1
    # The sensor daemon drops a request whose run key an earlier tick used, so a key made
    # from the content alone would skip the restored list. No key at all is never dropped.
    run_key = ids_runs[0].run_key
    assert run_key is None or run_key not in {request.run_key for request in ids_requests(first)}


def test_user_ids_sensor_missing_list_skips(tmp_path, dagster_instance):
    missing = tmp_path / "no_such_ids.csv"
    storage = AuthyStorageResource(data_dir=str(tmp_path / "data"), user_ids_path=str(missing))
    context = dg.build_sensor_context(
        instance=dagster_instance, resources={"authy_storage": storage}
    )

    result = authy_user_ids_sensor(context)

    assert isinstance(result, dg.SkipReason)
    assert str(missing) in (result.skip_message or "")
    assert "AUTHY_USER_IDS" in (result.skip_message or "")


def test_export_sensor_skips_without_fetched_batch(dagster_instance):
    result = tick_export_sensor(dagster_instance)

    assert isinstance(result, dg.SkipReason)
    assert "no batch has been fetched" in (result.skip_message or "")


def test_export_sensor_lifecycle(fast_project):
    project = fast_project(list(range(1, 16)))
    instance = project.instance
    project.materialize_user_ids()
    project.materialize_batch("batch-000001")

    after_fetch = tick_export_sensor(instance)

    assert isinstance(after_fetch, dg.RunRequest)
    phones = instance.fetch_materializations(dg.AssetKey("authy_phone_numbers"), limit=1)
    assert after_fetch.run_key == f"export-after-{phones.records[0].storage_id}"

    project.materialize_export()
    after_export = tick_export_sensor(instance)

    assert isinstance(after_export, dg.SkipReason)
    assert "export is newer" in (after_export.skip_message or "")

    project.materialize_batch("batch-000002")
    after_second_fetch = tick_export_sensor(instance)

    assert isinstance(after_second_fetch, dg.RunRequest)
    assert after_second_fetch.run_key != after_fetch.run_key


def workspace_job_origin(job_name: str) -> RemoteJobOrigin:
    """Return the origin that `dagster dev` gives a job loaded through workspace.yaml."""
    code_location = ManagedGrpcPythonEnvCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(module_name="authy_assets.definitions"),
        location_name="authy_assets",
    )
    return RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=code_location, repository_name="__repository__"
        ),
        job_name=job_name,
    )


def add_run_with_status(
    instance: dg.DagsterInstance,
    job_name: str,
    event_type: DagsterEventType,
    *,
    timestamp: float | None = None,
    asset_selection: set[dg.AssetKey] | None = None,
) -> dg.DagsterRun:
    """Store a run record and move it to a status with the event that Dagster reports for it.

    ``timestamp`` dates the event in epoch seconds. Without it, the event gets the current time.
    """
    # Dagster keeps a run in the QUEUED status only when the run names its code location.
    run = dg.DagsterRun(
        job_name=job_name,
        run_id=make_new_run_id(),
        remote_job_origin=workspace_job_origin(job_name),
        asset_selection=frozenset(asset_selection) if asset_selection else None,
    )
    instance.add_run(run)
    set_run_status(instance, run, event_type, timestamp=timestamp)
    return run


def set_run_status(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    event_type: DagsterEventType,
    *,
    timestamp: float | None = None,
) -> None:
    event = DagsterEvent(event_type_value=event_type.value, job_name=run.job_name)
    instance.report_dagster_event(event, run_id=run.run_id, timestamp=timestamp)


def stale_time() -> float:
    """Return a time one minute before a run's newest event makes it count as killed."""
    return time.time() - STALE_RUN_SECONDS - 60


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        (DagsterEventType.RUN_ENQUEUED, dg.DagsterRunStatus.QUEUED),
        (DagsterEventType.RUN_STARTING, dg.DagsterRunStatus.STARTING),
        (DagsterEventType.RUN_START, dg.DagsterRunStatus.STARTED),
        (DagsterEventType.RUN_CANCELING, dg.DagsterRunStatus.CANCELING),
    ],
)
def test_export_sensor_waits_for_fetch_run(fast_project, event_type, status):
    project = fast_project(list(range(1, 6)))
    instance = project.instance
    project.materialize_user_ids()
    project.materialize_batch("batch-000001")
    fetch_run = add_run_with_status(instance, fetch_batch_job.name, event_type)
    assert instance.get_run_by_id(fetch_run.run_id).status == status

    while_busy = tick_export_sensor(instance)

    assert isinstance(while_busy, dg.SkipReason)
    assert "fetch runs are still queued or running" in (while_busy.skip_message or "")
    assert fetch_run.run_id in (while_busy.skip_message or "")

    set_run_status(instance, fetch_run, DagsterEventType.RUN_SUCCESS)
    when_idle = tick_export_sensor(instance)

    assert isinstance(when_idle, dg.RunRequest)


@pytest.mark.parametrize(
    ("selection", "waits"),
    [
        ({"authy_raw_responses", "authy_phone_numbers"}, True),
        ({"authy_phone_numbers"}, True),
        ({"authy_phone_export"}, False),
        ({"authy_user_ids"}, False),
    ],
)
def test_export_sensor_waits_for_asset_graph_runs(fast_project, selection, waits):
    # Runs launched from the asset graph, a backfill's among them, run the implicit asset job.
    project = fast_project(list(range(1, 6)))
    instance = project.instance
    project.materialize_user_ids()
    project.materialize_batch("batch-000001")
    run = add_run_with_status(
        instance,
        "__ASSET_JOB",
        DagsterEventType.RUN_START,
        asset_selection={dg.AssetKey(name) for name in selection},
    )

    result = tick_export_sensor(instance)

    if waits:
        assert isinstance(result, dg.SkipReason)
        assert run.run_id in (result.skip_message or "")
    else:
        assert isinstance(result, dg.RunRequest)


@pytest.mark.parametrize(
    ("status", "selection", "waits"),
    [
        (BulkActionStatus.REQUESTED, ["authy_raw_responses", "authy_phone_numbers"], True),
        (BulkActionStatus.REQUESTED, None, True),
        (BulkActionStatus.REQUESTED, ["authy_phone_export"], False),
        (BulkActionStatus.COMPLETED_SUCCESS, ["authy_phone_numbers"], False),
        (BulkActionStatus.CANCELED, ["authy_phone_numbers"], False),
    ],
)
def test_export_sensor_waits_for_backfill(fast_project, status, selection, waits):
    # Between two runs of a backfill no run may be in progress, but the backfill still is.
    project = fast_project(list(range(1, 6)))
    instance = project.instance
    project.materialize_user_ids()
    project.materialize_batch("batch-000001")
    instance.add_backfill(
        PartitionBackfill(
            backfill_id="bfill001",
            status=status,
            from_failure=False,
            tags={},
            backfill_timestamp=time.time(),
            asset_selection=[dg.AssetKey(name) for name in selection] if selection else None,
        )
    )

    result = tick_export_sensor(instance)

    if waits:
        assert isinstance(result, dg.SkipReason)
        assert "backfill bfill001" in (result.skip_message or "")
    else:
        assert isinstance(result, dg.RunRequest)


def test_export_sensor_ignores_finished_and_other_runs(fast_project):
    project = fast_project(list(range(1, 6)))
    instance = project.instance
    project.materialize_user_ids()
    project.materialize_batch("batch-000001")
    add_run_with_status(instance, fetch_batch_job.name, DagsterEventType.RUN_SUCCESS)
    add_run_with_status(instance, fetch_batch_job.name, DagsterEventType.RUN_FAILURE)
    add_run_with_status(instance, export_job.name, DagsterEventType.RUN_START)

    result = tick_export_sensor(instance)

    assert isinstance(result, dg.RunRequest)


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        (DagsterEventType.RUN_STARTING, dg.DagsterRunStatus.STARTING),
        (DagsterEventType.RUN_START, dg.DagsterRunStatus.STARTED),
        (DagsterEventType.RUN_CANCELING, dg.DagsterRunStatus.CANCELING),
    ],
)
def test_export_sensor_ignores_silent_fetch_run(fast_project, event_type, status):
    project = fast_project(list(range(1, 6)))
    instance = project.instance
    project.materialize_user_ids()
    project.materialize_batch("batch-000001")
    killed_run = add_run_with_status(
        instance, fetch_batch_job.name, event_type, timestamp=stale_time()
    )
    assert instance.get_run_by_id(killed_run.run_id).status == status

    result = tick_export_sensor(instance)

    assert isinstance(result, dg.RunRequest)


def test_export_sensor_waits_for_run_with_recent_event(fast_project):
    project = fast_project(list(range(1, 6)))
    instance = project.instance
    project.materialize_user_ids()
    project.materialize_batch("batch-000001")
    live_run = add_run_with_status(
        instance, fetch_batch_job.name, DagsterEventType.RUN_START, timestamp=stale_time()
    )
    instance.report_engine_event("batch-000001: 3/5 users done", live_run)
    killed_run = add_run_with_status(
        instance, fetch_batch_job.name, DagsterEventType.RUN_START, timestamp=stale_time()
    )

    result = tick_export_sensor(instance)

    assert isinstance(result, dg.SkipReason)
    message = result.skip_message or ""
    assert f"waits for run {live_run.run_id}" in message
    assert f"not waiting for run {killed_run.run_id}" in message


def test_export_sensor_waits_for_silent_queued_run(fast_project):
    project = fast_project(list(range(1, 6)))
    instance = project.instance
    project.materialize_user_ids()
    project.materialize_batch("batch-000001")
    queued_run = add_run_with_status(
        instance, fetch_batch_job.name, DagsterEventType.RUN_ENQUEUED, timestamp=stale_time()
    )
    assert instance.get_run_by_id(queued_run.run_id).status == dg.DagsterRunStatus.QUEUED

    result = tick_export_sensor(instance)

    assert isinstance(result, dg.SkipReason)
    assert queued_run.run_id in (result.skip_message or "")


def schedule_tick(project, when: datetime) -> list[dg.RunRequest] | dg.SkipReason:
    # The context must be closed: it keeps the instance, and an unclosed one leaves the
    # instance's state storage as the current one after the instance is gone.
    with dg.build_schedule_context(
        instance=project.instance,
        scheduled_execution_time=when,
        resources={"authy_storage": project.storage},
    ) as context:
        result = authy_monthly_refresh(context)
    return result if isinstance(result, dg.SkipReason) else list(result)


def test_monthly_refresh_requests_every_batch(fast_project):
    project = fast_project(list(range(1, 26)))
    project.materialize_user_ids()
    batch_keys = ["batch-000001", "batch-000002", "batch-000003"]
    assert project.batch_keys() == batch_keys

    march = schedule_tick(project, datetime(2026, 3, 1, 6, 0, tzinfo=UTC))
    april = schedule_tick(project, datetime(2026, 4, 1, 6, 0, tzinfo=UTC))

    assert sorted(request.partition_key for request in march) == batch_keys
    assert sorted(request.partition_key for request in april) == batch_keys
    march_keys = {request.run_key for request in march}
    april_keys = {request.run_key for request in april}
    assert len(march_keys) == len(batch_keys)
    assert len(april_keys) == len(batch_keys)
    assert march_keys.isdisjoint(april_keys)
    assert authy_monthly_refresh.job_name == fetch_batch_job.name


def test_refresh_skips_other_list_batches(fast_project):
    # Another data directory on the same instance registered batch-000007; the current list
    # has only two batches.
    project = fast_project(list(range(1, 16)))
    project.instance.add_dynamic_partitions(BATCHES_PARTITION_NAME, ["batch-000007"])
    project.materialize_user_ids()

    requests = schedule_tick(project, datetime(2026, 3, 1, 6, 0, tzinfo=UTC))

    assert [request.partition_key for request in requests] == ["batch-000001", "batch-000002"]


def test_monthly_refresh_before_first_id_list_skips(fast_project):
    project = fast_project(list(range(1, 16)))

    result = schedule_tick(project, datetime(2026, 3, 1, 6, 0, tzinfo=UTC))

    assert isinstance(result, dg.SkipReason)
    assert "materialize authy_user_ids" in (result.skip_message or "")


def test_sensor_skips_other_list_batches(fast_project):
    project = fast_project(list(range(1, 16)))
    project.instance.add_dynamic_partitions(BATCHES_PARTITION_NAME, ["batch-000007"])
    cursor = file_digest(project.user_ids_path)
    project.materialize_user_ids()

    result = tick_user_ids_sensor(project, cursor=cursor)

    assert isinstance(result, dg.SensorResult)
    assert [request.partition_key for request in fetch_requests(result)] == [
        "batch-000001",
        "batch-000002",
    ]
