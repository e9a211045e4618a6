"""The Dagster UI path in headless Chromium: what a user clicks, from the id list to the export.

The tests share one ``dagster dev`` and run in file order. The first materializes the ids,
backfills every batch, reads the check results of each batch and the export's row count. The
export is rebuilt by authy_export_sensor, which is on by default, as the README describes. The
second turns the schedule and sensors on and appends ids to the list, which the
user-ids sensor turns into a new batch.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from authy_assets_tests.ui import id_list
from authy_assets_tests.ui.graphql import ACTIVE_RUN_STATUSES, DagsterGraphql, wait_for

try:
    from playwright.sync_api import expect
except ImportError:
    # The default test run deselects these tests; the sync_playwright fixture fails the UI run.
    expect = None

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from authy_assets_tests.ui.conftest import DagsterUi
    from authy_assets_tests.ui.recorder import StepRecorder

pytestmark = [pytest.mark.ui, pytest.mark.timeout(480)]

ASSET_NAMES = ("authy_user_ids", "authy_raw_responses", "authy_phone_numbers", "authy_phone_export")
WARNING_CHECKS = ("export_disabled_users", "users_not_found")
PASSING_CHECKS = ("one_row_per_user", "ok_rows_have_valid_e164")
SCHEDULE = "authy_monthly_refresh"
USER_IDS_SENSOR = "authy_user_ids_sensor"
EXPORT_SENSOR = "authy_export_sensor"
RUN_SECONDS = 180
# The backfill daemon starts the runs of a backfill on its next iteration, about 30 s apart in
# Dagster 1.13, and marks the backfill done on a later one.
BACKFILL_SECONDS = 300
# authy_export_sensor and authy_user_ids_sensor run at most every 60 s
# (minimum_interval_seconds), and the requested run must finish too.
SENSOR_SECONDS = 240
UI_WAIT_MS = 60_000
BATCHES_BY_KEY = {batch.key: batch for batch in id_list.BATCHES}
# Part of the description of the export_disabled_users check, as the Checks tab shows it.
EXPORT_DISABLED_ADVICE = "ask Twilio support"


def graph_node(page: Page, asset_name: str) -> Locator:
    """Return an asset's node in the lineage graph; its label is the only element with this tooltip."""
    return page.locator(f'[data-tooltip="{asset_name}"]')


def metadata_row(page: Page, label: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_text(label, exact=True))


def check_list_item(page: Page, check_name: str) -> Locator:
    """Return a check's entry in the Checks tab: its status icon, name and latest result."""
    entries = page.locator("div").filter(has=page.get_by_title(check_name, exact=True))
    # Every ancestor of the name matches; the last in document order is the innermost.
    return entries.filter(has=page.get_by_role("img")).last


def running_toggle(page: Page) -> Locator:
    """Return the switch in the Running row of a schedule's or sensor's page."""
    return page.get_by_role("row").filter(has=page.get_by_text("Running", exact=True)).get_by_role(
        "checkbox"
    )


def click_switch(toggle: Locator) -> None:
    """Click a switch through its label, because the switch draws over its hidden checkbox."""
    toggle.locator("xpath=..").click()


def failed_runs(graphql: DagsterGraphql) -> str | None:
    """Return a reason to stop waiting when any run of the instance failed, else None."""
    failed = graphql.runs(["FAILURE", "CANCELED"])
    if not failed:
        return None
    return "runs failed: " + ", ".join(f"{run['runId']} ({run['jobName']})" for run in failed)


def export_after_last_batch(graphql: DagsterGraphql) -> dict | None:
    """Return the export's materialization once it is newer than every batch and no run is left."""
    if graphql.runs(ACTIVE_RUN_STATUSES):
        return None
    export = graphql.latest_materialization("authy_phone_export")
    phones = graphql.latest_materialization("authy_phone_numbers")
    if export is None or phones is None or int(export["timestamp"]) <= int(phones["timestamp"]):
        return None
    return export


def test_backfill_checks_and_export(
    dagster_ui: DagsterUi, ui_page: Page, recorder: StepRecorder
):
    page = ui_page
    graphql = dagster_ui.graphql

    with recorder.step("asset graph lists four assets"):
        page.goto(dagster_ui.url + "/asset-groups")
        for name in ASSET_NAMES:
            expect(graph_node(page, name)).to_be_visible()

    with recorder.step("authy_user_ids materialized from graph"):
        graph_node(page, "authy_user_ids").click()
        page.get_by_role("button", name="Materialize selected").click()
        wait_for(
            "the materialization of authy_user_ids",
            lambda: graphql.latest_materialization("authy_user_ids"),
            RUN_SECONDS,
            fail_fast=lambda: failed_runs(graphql),
        )
        # The side panel of the selected asset shows its newest materialization.
        expect(metadata_row(page, "dagster/row_count")).to_contain_text(
            str(id_list.DISTINCT_VALID_IDS), timeout=UI_WAIT_MS
        )
        expect(metadata_row(page, "batches")).to_contain_text(str(len(id_list.BATCHES)))

    with recorder.step("backfill dialog selects every batch"):
        page.goto(dagster_ui.url + "/asset-groups")
        graph_node(page, "authy_phone_numbers").click()
        graph_node(page, "authy_raw_responses").click(modifiers=["Shift"])
        page.get_by_role("button", name="Materialize selected").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("Launch runs to materialize 2 assets")
        dialog.get_by_role("button", name="All", exact=True).click()
        expect(dialog).to_contain_text(f"{len(id_list.BATCHES)} partitions")
        for batch in id_list.BATCHES:
            expect(dialog.get_by_text(batch.key, exact=True).first).to_be_visible()

    with recorder.step("backfill launched"):
        dialog.get_by_role("button", name="Launch backfill").click()
        toast = page.get_by_text(re.compile(r"^Created backfill \w+$"))
        expect(toast).to_be_visible()
        backfill_id = toast.inner_text().split()[-1]

    with recorder.step("backfill succeeded"):
        page.goto(f"{dagster_ui.url}/runs/b/{backfill_id}?tab=runs")
        wait_for(
            f"backfill {backfill_id} to finish",
            lambda: graphql.backfill_status(backfill_id) != "REQUESTED",
            BACKFILL_SECONDS,
            fail_fast=lambda: failed_runs(graphql),
        )
        assert graphql.backfill_status(backfill_id) == "COMPLETED_SUCCESS"
        page.reload()
        expect(page.get_by_text("Succeeded", exact=True).first).to_be_visible(timeout=UI_WAIT_MS)
        run_links = page.get_by_role("link", name="View", exact=True)
        expect(run_links).to_have_count(len(id_list.BATCHES), timeout=UI_WAIT_MS)
        run_urls = [link.get_attribute("href") for link in run_links.all()]

    seen_batches = set()
    for run_url in run_urls:
        with recorder.step(f"check results of run {run_url.rsplit('/', 1)[-1][:8]}"):
            page.goto(dagster_ui.url + run_url)
            partition = page.get_by_text(re.compile(r"^partition: batch-\d+$"))
            expect(partition).to_be_visible()
            batch_key = partition.inner_text().removeprefix("partition: ")
            seen_batches.add(batch_key)
            page.get_by_placeholder("Filter…").fill("type:ASSET_CHECK_EVALUATION")
            batch = BATCHES_BY_KEY[batch_key]
            warnings = {
                "export_disabled_users": len(batch.export_disabled),
                "users_not_found": len(batch.unknown),
            }
            for check, count in warnings.items():
                message = f"Check {check} failed for materialization of authy_phone_numbers."
                expect(page.get_by_text(message, exact=True)).to_be_visible()
                # The event's metadata table follows the message in the same log cell.
                event = page.get_by_text(message, exact=True).locator("xpath=..")
                expect(event.get_by_role("row", name=f"count {count}", exact=True)).to_be_visible()
            for check in PASSING_CHECKS:
                message = f"Check {check} succeeded for materialization of authy_phone_numbers."
                expect(page.get_by_text(message, exact=True)).to_be_visible()
    assert seen_batches == {batch.key for batch in id_list.BATCHES}

    with recorder.step("checks tab shows warnings"):
        page.goto(dagster_ui.url + "/assets/authy_phone_numbers?view=checks")
        for check in WARNING_CHECKS:
            item = check_list_item(page, check)
            # A failed check of severity WARN has this icon; one of severity ERROR has another.
            expect(item.get_by_role("img")).to_have_attribute("aria-label", "warning_outline")
            expect(item).to_contain_text("Failed")
            item.click()
            page.get_by_role("tab", name="Execution history").click()
            # One evaluation per batch, each failed with a warning.
            failed = page.get_by_role("row").filter(has=page.get_by_text("Failed", exact=True))
            expect(failed).to_have_count(len(id_list.BATCHES))
        check_list_item(page, "export_disabled_users").click()
        # The check panel's tabs are buttons; the asset page's tabs of the same names are links.
        page.get_by_role("tab", name="Overview").and_(page.locator("button")).click()
        expect(page.get_by_text(EXPORT_DISABLED_ADVICE, exact=False)).to_be_visible()

    with recorder.step("export row count equals distinct ids"):
        wait_for(
            "authy_export_sensor to rebuild the export after the backfill",
            lambda: export_after_last_batch(graphql),
            SENSOR_SECONDS,
            fail_fast=lambda: failed_runs(graphql),
        )
        page.goto(dagster_ui.url + "/assets/authy_phone_export?view=events")
        row_count = metadata_row(page, "dagster/row_count")
        expect(row_count).to_have_count(1)
        value = row_count.get_by_role("cell").nth(1).inner_text().strip()
        assert value == str(id_list.DISTINCT_VALID_IDS), row_count.inner_text()


def test_automation_turned_on_from_ui(
    dagster_ui: DagsterUi, ui_page: Page, recorder: StepRecorder
):
    page = ui_page
    graphql = dagster_ui.graphql

    with recorder.step("automation page lists schedule and sensors"):
        page.goto(dagster_ui.url + "/automation")
        for name in (SCHEDULE, USER_IDS_SENSOR, EXPORT_SENSOR):
            expect(page.get_by_role("link", name=name)).to_be_visible()

    with recorder.step("export sensor running by default"):
        page.get_by_role("link", name=EXPORT_SENSOR).click()
        toggle = running_toggle(page)
        expect(toggle).to_be_checked()
        assert graphql.sensor_state(EXPORT_SENSOR)["status"] == "RUNNING"

    with recorder.step("export sensor stopped and started again"):
        click_switch(toggle)
        expect(toggle).not_to_be_checked()
        wait_for(
            f"{EXPORT_SENSOR} to stop",
            lambda: graphql.sensor_state(EXPORT_SENSOR)["status"] == "STOPPED",
            UI_WAIT_MS / 1000,
        )
        click_switch(toggle)
        expect(toggle).to_be_checked()
        wait_for(
            f"{EXPORT_SENSOR} to run",
            lambda: graphql.sensor_state(EXPORT_SENSOR)["status"] == "RUNNING",
            UI_WAIT_MS / 1000,
        )

    with recorder.step("monthly schedule turned on"):
        page.goto(dagster_ui.url + "/automation")
        page.get_by_role("link", name=SCHEDULE).click()
        toggle = running_toggle(page)
        expect(toggle).not_to_be_checked()
        click_switch(toggle)
        expect(toggle).to_be_checked()
        wait_for(
            f"{SCHEDULE} to run",
            lambda: graphql.schedule_status(SCHEDULE) == "RUNNING",
            UI_WAIT_MS / 1000,
        )

    with recorder.step("user ids sensor turned on"):
        page.goto(dagster_ui.url + "/automation")
        page.get_by_role("link", name=USER_IDS_SENSOR).click()
        toggle = running_toggle(page)
        expect(toggle).not_to_be_checked()
        click_switch(toggle)
        expect(toggle).to_be_checked()

    with recorder.step("user ids sensor first tick"):
        # With no cursor yet, the first tick materializes authy_user_ids from the unchanged list.
        first_runs = wait_for(
            f"the first tick of {USER_IDS_SENSOR} that requests a run",
            lambda: requested_runs(graphql, USER_IDS_SENSOR),
            SENSOR_SECONDS,
        )
        for run_id in first_runs:
            wait_for(
                f"run {run_id} requested by {USER_IDS_SENSOR}",
                lambda: graphql.run_status(run_id) == "SUCCESS",
                RUN_SECONDS,
                fail_fast=lambda: failed_runs(graphql),
            )
        page.reload()
        expect(page.get_by_text(re.compile(r"^1 run requested$")).first).to_be_visible(
            timeout=UI_WAIT_MS
        )

    assert id_list.APPENDED_BATCH_KEY not in graphql.partition_keys("authy_raw_responses")
    id_list.append_ids(dagster_ui.ids_file)

    with recorder.step("appended ids become a new batch"):
        wait_for(
            f"{USER_IDS_SENSOR} to add {id_list.APPENDED_BATCH_KEY} after ids were appended",
            lambda: id_list.APPENDED_BATCH_KEY in graphql.partition_keys("authy_raw_responses"),
            SENSOR_SECONDS,
            fail_fast=lambda: failed_runs(graphql),
        )
        page.goto(dagster_ui.url + "/assets/authy_raw_responses?view=partitions")
        expect(page.get_by_text(id_list.APPENDED_BATCH_KEY, exact=True).first).to_be_visible(
            timeout=UI_WAIT_MS
        )


def requested_runs(graphql: DagsterGraphql, sensor_name: str) -> list[str] | None:
    """Return the run ids of the sensor's oldest tick that requested runs, or None."""
    ticks = graphql.sensor_state(sensor_name)["ticks"]
    with_runs = [tick for tick in ticks if tick["runIds"]]
    return with_runs[-1]["runIds"] if with_runs else None
