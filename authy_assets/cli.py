"""The ``authy-assets`` command: run the whole export headless, or start the emulator."""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import sys
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from authy_assets.instance import prepare_dagster_home
from authy_assets.paths import DEFAULT_DAGSTER_HOME
from authy_assets.stop_signals import StopRequested, stop_children, stop_on_signals

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event

    import dagster as dg

    from authy_assets.environment import RunSettings

_QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
# Failed batches named in the final error message; the rest are counted.
_LISTED_FAILURES = 10


def _use_project_instance() -> Path:
    """Point Dagster at the project's instance directory unless DAGSTER_HOME is already set."""
    home = prepare_dagster_home(
        Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).expanduser()
    )
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@click.group()
def main() -> None:
    """Export every Authy user's phone number with Dagster."""


@main.command()
@click.option(
    "--parallel",
    default=2,
    show_default=True,
    type=click.IntRange(1, 32),
    help="Batches fetched at once, each in its own process. They share one rate limiter.",
)
def run(parallel: int) -> None:
    """Materialize every asset for every batch against AUTHY_API_URL."""
    settings = _load_settings()
    _check_id_list(Path(settings.storage.user_ids_path))
    home = _use_project_instance()

    import dagster as dg

    from authy_assets.definitions import build_definitions
    from authy_assets.preflight import current_batch_keys

    defs = build_definitions()
    ids_job = defs.resolve_job_def("authy_user_ids_job")
    export_job = defs.resolve_job_def("authy_export_job")
    instance = dg.DagsterInstance.get()
    click.echo(f"Dagster instance: {home}")

    context = multiprocessing.get_context("spawn")
    # Set on SIGINT or SIGTERM, so that a batch process starts no further batch run.
    stop_event = context.Event()
    with ProcessPoolExecutor(
        max_workers=parallel,
        mp_context=context,
        initializer=_prepare_worker,
        initargs=(stop_event,),
    ) as pool:
        # Start every batch process and let it import Dagster and load the definitions before
        # the first run, so that no run waits for that and the budget is used from the start.
        for warm_up in [pool.submit(_worker_ready) for _ in range(parallel)]:
            warm_up.result()

        ids_result = ids_job.execute_in_process(
            instance=instance, run_config=_QUIET_LOGS, raise_on_error=False
        )
        if not ids_result.success:
            _fail(
                f"materializing authy_user_ids from AUTHY_USER_IDS"
                f" ({settings.storage.user_ids_path}) failed: {first_error(ids_result)}"
            )

        batch_keys = current_batch_keys(settings.storage.user_ids_file)
        noun = "batch" if len(batch_keys) == 1 else "batches"
        click.echo(f"{len(batch_keys)} {noun} to fetch, {parallel} at a time")
        key_test_id = f"key-test-{uuid.uuid4().hex}"
        # The handlers stay installed while the batch processes stop, so that a second Ctrl-C
        # cannot cut the stop short.
        with stop_on_signals():
            try:
                _test_api_key(settings, key_test_id)
                failures = _fetch_batches(pool, batch_keys, key_test_id)
            except StopRequested as stop:
                stop_event.set()
                pool.shutdown(wait=False, cancel_futures=True)
                click.echo(
                    f"Stopping on {stop.signal_name}: ending the batch runs in progress", err=True
                )
                stop_children()
                _fail_unfinished_runs(instance, key_test_id, stop.signal_name)
                _stop(stop)

        # Still inside the pool's block, so the export does not wait for the batch processes
        # to shut down.
        export_result = export_job.execute_in_process(
            instance=instance, run_config=_QUIET_LOGS, raise_on_error=False
        )
    if not export_result.success:
        _fail(f"writing the export failed: {first_error(export_result)}")
    _print_summary(settings.storage.export_file)
    if failures:
        _fail(_batch_failure_message(failures, len(batch_keys)))


def _load_settings() -> RunSettings:
    """Check every AUTHY_* setting before any Dagster run starts."""
    from authy_assets.environment import load_run_settings

    try:
        return load_run_settings()
    except ValueError as error:
        _fail(str(error))


def _check_id_list(path: Path) -> None:
    """Read the id list once before any run, so that an unreadable list is one error line.

    Inside the authy_user_ids run the same error would also print Dagster's stack trace.
    """
    from authy_assets.ids import IdListError, read_user_ids

    try:
        id_list = read_user_ids(path)
    except IdListError as error:
        _fail(f"AUTHY_USER_IDS: {error}")
    if not len(id_list.ids):
        first = id_list.rejects[0]
        _fail(
            f"AUTHY_USER_IDS: the id list {path} has no valid user ids ({id_list.rejected_count}"
            f" lines were rejected; the first is line {first.line_number}: {first.reason}). Fix"
            " the file or point AUTHY_USER_IDS at another one"
        )


def _test_api_key(settings: RunSettings, key_test_id: str) -> None:
    """Send one request alone, so that a wrong key stops the run before any batch run starts."""
    from authy_assets.client.fetch import AuthyUnauthorizedError, AuthyUnreachableError
    from authy_assets.preflight import first_user_to_fetch, send_key_test_request

    first = first_user_to_fetch(settings.fetch, settings.storage.user_ids_file)
    if first is None:
        return
    batch_key, authy_id = first
    click.echo(f"Testing AUTHY_API_KEY with one request (authy_id {authy_id} of {batch_key})")
    try:
        send_key_test_request(settings.fetch, batch_key, authy_id, key_test_id=key_test_id)
    except (AuthyUnauthorizedError, AuthyUnreachableError) as error:
        _fail(str(error))


def _fetch_batches(
    pool: ProcessPoolExecutor, batch_keys: list[str], key_test_id: str
) -> dict[str, str]:
    """Run the fetch job for every batch and return the error message of each failed batch."""
    failures = {}
    futures = {pool.submit(_fetch_one_batch, key, key_test_id): key for key in batch_keys}
    for done, future in enumerate(as_completed(futures), start=1):
        batch_key = futures[future]
        try:
            error = future.result()
        except BrokenProcessPool as broken:
            # A batch process was killed from outside, for example by the kernel's OOM killer.
            error = f"its batch process died ({broken})"
        click.echo(f"[{done}/{len(batch_keys)}] {batch_key} {'done' if error is None else 'FAILED'}")
        if error is not None:
            failures[batch_key] = error
    return dict(sorted(failures.items()))


def _batch_failure_message(failures: dict[str, str], batch_count: int) -> str:
    first_key, first_message = next(iter(failures.items()))
    if len(failures) == batch_count:
        return (
            f"all {batch_count} batches failed. The first error, in {first_key}: {first_message}."
            " Fix its cause, then run `authy-assets run` again"
        )
    listed = ", ".join(list(failures)[:_LISTED_FAILURES])
    if len(failures) > _LISTED_FAILURES:
        listed += f" and {len(failures) - _LISTED_FAILURES} more"
    return (
        f"{len(failures)} of {batch_count} batches failed: {listed}. The first error, in"
        f" {first_key}: {first_message}. The export contains the other batches, and a failed"
        " batch's rows from an earlier fetch if it had one. Run `authy-assets run` again to"
        " retry the failed ones. Users with a final response are not requested again"
    )


def first_error(result: dg.ExecuteInProcessResult) -> str:
    """Return the message of a failed run's first step failure, on one line.

    Dagster wraps an exception raised in an asset in DagsterExecutionStepExecutionError, so
    the innermost cause carries the asset's own message.
    """
    failures = result.get_step_failure_events()
    if not failures or failures[0].step_failure_data.error is None:
        return f"run {result.run_id} failed without a step failure; see the log above"
    error = failures[0].step_failure_data.error
    while error.cause is not None:
        error = error.cause
    text = error.message.strip()
    # Dagster prefixes the message with the exception's qualified class name.
    qualified, separator, rest = text.partition(": ")
    if separator and qualified.split(".")[-1] == error.cls_name:
        text = rest if error.cls_name == "Failure" else f"{error.cls_name}: {rest}"
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _fail_unfinished_runs(instance: dg.DagsterInstance, key_test_id: str, reason: str) -> None:
    """Mark the batch runs of this command that a stopped process left unfinished as failed.

    A process stopped while Dagster starts or ends a run leaves the run NOT_STARTED or STARTED,
    and authy_export_sensor would wait for such a run for 30 minutes.
    """
    import dagster as dg

    from authy_assets.preflight import KEY_TEST_TAG

    unfinished = [
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    ]
    records = instance.get_run_records(
        filters=dg.RunsFilter(tags={KEY_TEST_TAG: key_test_id}, statuses=unfinished)
    )
    for record in records:
        instance.report_run_failed(
            record.dagster_run, f"authy-assets run was stopped by {reason} during this run"
        )


def _stop(stop: StopRequested) -> NoReturn:
    """Exit with status 128 plus the signal number, as a shell reports a process it stopped."""
    click.echo(
        f"Error: stopped by {stop.signal_name} before every batch was fetched. Every response"
        " received so far is stored in the ledger, and the export was not rebuilt. Run"
        " `authy-assets run` again to fetch the rest.",
        err=True,
    )
    sys.exit(128 + stop.signal_number)


def _fail(message: str) -> NoReturn:
    """Stop the command with a one-line error that never contains the API key."""
    api_key = os.environ.get("AUTHY_API_KEY", "").strip()
    if api_key:
        # Only whole occurrences: a short test key such as "k" must not cut into paths and
        # words of the message, which would also show what the key is.
        whole_key = rf"(?<![A-Za-z0-9]){re.escape(api_key)}(?![A-Za-z0-9])"
        message = re.sub(whole_key, "<AUTHY_API_KEY>", message)
    raise click.ClickException(" ".join(message.splitlines()))


# The fetch job and the instance of a batch process, set once by _prepare_worker.
_worker_state: dict[str, object] = {}


def _prepare_worker(stop_event: Event) -> None:
    """Load the definitions and open the instance in a new batch process."""
    import dagster as dg

    from authy_assets.definitions import build_definitions

    _worker_state["job"] = build_definitions().resolve_job_def("authy_fetch_batch_job")
    _worker_state["instance"] = dg.DagsterInstance.get()
    _worker_state["stop_event"] = stop_event


def _worker_ready() -> bool:
    return "job" in _worker_state


def _fetch_one_batch(batch_key: str, key_test_id: str) -> str | None:
    """Run the fetch job for one batch in a batch process and return its error message, if any."""
    from authy_assets.preflight import KEY_TEST_TAG

    if _worker_state["stop_event"].is_set():
        return "not started, because `authy-assets run` was stopped"
    result = _worker_state["job"].execute_in_process(
        instance=_worker_state["instance"],
        partition_key=batch_key,
        tags={KEY_TEST_TAG: key_test_id},
        run_config=_QUIET_LOGS,
        raise_on_error=False,
    )
    return None if result.success else first_error(result)


def _print_summary(export_file: Path) -> None:
    import pyarrow.parquet as pq

    from authy_assets.export import export_outputs

    statuses = Counter(pq.read_table(export_file, columns=["status"]).column("status").to_pylist())
    total = sum(statuses.values())
    click.echo(f"Export written to {export_file}")
    if total == 0:
        click.echo("0 users")
        return
    parts = ", ".join(f"{count} {status}" for status, count in statuses.most_common())
    click.echo(f"{total} users: {parts}")
    outputs = export_outputs(export_file)
    ready = pq.read_metadata(outputs.verify_ready_parquet).num_rows
    click.echo(
        f"{ready} users ready for Twilio Verify: {outputs.verify_ready_csv} and"
        f" {outputs.verify_ready_parquet.name}"
    )
    click.echo(f"Summary: {outputs.summary_html}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port; 0 picks one.")
@click.option(
    "--api-key",
    envvar="AUTHY_API_KEY",
    show_envvar=True,
    required=True,
    help="The API key the emulator accepts.",
)
@click.option("--population", "population_file", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON Lines file of users that add to or override the generated ones.")
@click.option("--population-size", default=2200, show_default=True, type=int,
              help="Users 1..N exist in the generated population.")
@click.option("--seed", default=7, show_default=True, type=int, help="Seed of the population.")
@click.option("--export-disabled-share", default=0.05, show_default=True, type=float,
              help="Share of users whose export is disabled (error 60154).")
@click.option("--rate-limit", default=1500, show_default=True, type=int,
              help="Requests allowed per rate window per API key.")
@click.option("--rate-window", default=60.0, show_default=True, type=float,
              help="Length of the rate window in seconds.")
@click.option("--monthly-quota", default=3, show_default=True, type=int,
              help="Requests allowed per user per calendar month (UTC).")
@click.option("--latency", default="realistic", show_default=True,
              type=click.Choice(["realistic", "none"]),
              help="Response latency: realistic (mostly 100-300 ms, a tail to about 2 s) or none.")
@click.option("--latency-median-ms", type=float, default=None,
              help="Median latency in ms, same shape as realistic.")
@click.option("--fault-500", default=0.0, type=float, help="Share of responses that are HTTP 500.")
@click.option("--fault-503-html", default=0.0, type=float,
              help="Share of responses that are 503 with an HTML body.")
@click.option("--fault-drop", default=0.0, type=float,
              help="Share of requests whose connection is closed without a response.")
@click.option("--fault-slow", default=0.0, type=float,
              help="Share of responses delayed by --slow-seconds.")
@click.option("--slow-seconds", default=30.0, type=float, help="Delay of slow responses, in seconds.")
@click.option("--fault-malformed-json", default=0.0, type=float,
              help="Share of 200 responses with a truncated JSON body.")
@click.option("--not-found-status", default=404, show_default=True, type=int,
              help="HTTP status of error 60026 (user not found), which Twilio does not document.")
@click.option("--export-disabled-status", default=400, show_default=True, type=int,
              help="HTTP status of error 60154 (export disabled), which Twilio does not document.")
@click.option("--rate-limited-status", default=429, show_default=True, type=int,
              help="HTTP status of error 60003 (rate limit or monthly quota).")
@click.option("--retry-after", default=None,
              help="Retry-After header sent verbatim on rate-limited responses (none by default).")
@click.option("--app-limited-counts-for-user/--app-limited-not-counted", default=True,
              show_default=True,
              help="Whether a request rejected by the rate limit counts against its user's"
              " monthly quota.")
def emulator(population_file: Path | None, **options: object) -> None:
    """Serve a local emulator of Authy's phone-number export endpoint."""
    from authy_assets.emulator import EmulatorConfig, PopulationFileError, serve_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    names = {
        "rate_window": "rate_window_seconds",
    }
    settings = {names.get(key, key): value for key, value in options.items()}
    try:
        config = EmulatorConfig(population_file=population_file, **settings)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    try:
        serve_forever(
            config, on_ready=lambda url: click.echo(f"Authy emulator listening on {url}")
        )
    except PopulationFileError as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(
            f"failed to listen on {config.host}:{config.port}: {error.strerror or error}."
            " Pick another --port, or --port 0 for a free one."
        ) from None


if __name__ == "__main__":
    sys.exit(main())
