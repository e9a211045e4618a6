"""Fixtures of the UI test: the emulator, ``dagster dev`` and headless Chromium, all on 127.0.0.1."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

import pytest

from authy_assets_tests.conftest import API_KEY
from authy_assets_tests.ui import id_list
from authy_assets_tests.ui.graphql import DagsterGraphql
from authy_assets_tests.ui.recorder import ARTIFACTS_DIR, StepRecorder
from authy_assets_tests.ui.services import (
    ChildProcess,
    start_dagster_dev,
    start_emulator_process,
)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Route

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Every host name except 127.0.0.1 fails to resolve, so no request made by the browser
    # itself, outside the page's routing, can leave the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
# Any URL except http(s)://127.0.0.1 with or without a port, and data: or blob: URLs, which the
# page builds itself.
NOT_LOOPBACK_URL = re.compile(r"^(?!https?://127\.0\.0\.1(?::\d+)?(?:/|$)|data:|blob:)")
VIEWPORT = {"width": 1920, "height": 1080}
ACTION_TIMEOUT_MS = 30_000
# The first visit to the UI may open this dialog, which covers the page until skipped.
COMMUNITY_DIALOG_TITLE = "Join the Dagster community"


@dataclass
class DagsterUi:
    """A running ``dagster dev`` on a temporary instance, fed by an emulator."""

    url: str
    graphql: DagsterGraphql
    dagster: ChildProcess
    ids_file: Path


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Return the Chromium binary from CHROMIUM or /usr/bin/chromium; fail when it is missing."""
    path = os.environ.get("CHROMIUM", "").strip() or DEFAULT_CHROMIUM
    resolved = shutil.which(path)
    if resolved is None:
        pytest.fail(
            f"Chromium not found at {path!r}: install it with `apt-get install chromium`, or set"
            " CHROMIUM to the path of a Chromium binary",
            pytrace=False,
        )
    return resolved


@pytest.fixture(scope="session")
def sync_playwright():
    """Return Playwright's sync_playwright; fail when the package is not installed.

    The import happens here, not at the top of the module, so that the default test run, which
    deselects the UI tests, does not need Playwright.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        pytest.fail(
            f"Playwright is not installed ({error}): install it with"
            " `.venv/bin/python -m pip install -e '.[test,ui]'` or run `make test-ui`",
            pytrace=False,
        )
    return sync_playwright


@pytest.fixture(scope="session")
def clean_artifacts() -> None:
    """Remove the screenshots of an earlier run, so that every file in the folder is current."""
    if ARTIFACTS_DIR.exists():
        for old in ARTIFACTS_DIR.glob("*.png"):
            old.unlink()


@pytest.fixture(scope="module")
def dagster_ui(
    chromium_executable: str, clean_artifacts: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DagsterUi]:
    """Start the emulator and ``dagster dev`` on the planned id list; stop both afterwards."""
    workdir = tmp_path_factory.mktemp("dagster-ui")
    population_file = workdir / "population.jsonl"
    id_list.write_population(population_file)
    ids_file = workdir / "authy_user_ids.csv"
    id_list.write_id_list(ids_file)

    started: list[ChildProcess] = []
    try:
        emulator = start_emulator_process(workdir, API_KEY, population_file)
        started.append(emulator)
        settings = {
            "AUTHY_API_URL": emulator.url,
            "AUTHY_API_KEY": API_KEY,
            "AUTHY_USER_IDS": str(ids_file),
            "AUTHY_DATA_DIR": str(workdir / "data"),
            "AUTHY_BATCH_SIZE": str(id_list.BATCH_SIZE),
            # The emulator has no reachable limit either, so a batch takes about a second.
            "AUTHY_RATE_LIMIT": "100000",
        }
        dagster = start_dagster_dev(workdir, settings)
        started.append(dagster)
        graphql = DagsterGraphql(dagster.url)
        try:
            yield DagsterUi(url=dagster.url, graphql=graphql, dagster=dagster, ids_file=ids_file)
        finally:
            graphql.close()
    finally:
        for child in reversed(started):
            child.stop()


@pytest.fixture(scope="module")
def browser_context(
    chromium_executable: str, sync_playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    """Launch headless Chromium with a fresh profile that may only contact 127.0.0.1."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    blocked: list[str] = []

    # Only requests to other hosts are routed. The sync API runs route handlers only while the
    # test is inside a Playwright call, so routing the UI's own requests would stall them while
    # the test waits on GraphQL. Playwright matches a regular expression in the browser process;
    # a Python callable would route every request through this process.
    def block(route: Route) -> None:
        blocked.append(route.request.url)
        route.abort("blockedbyclient")

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium_executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
        )
        try:
            context.route(NOT_LOOPBACK_URL, block)
            yield context
        finally:
            context.close()
    if blocked:
        print(f"blocked {len(blocked)} requests to hosts other than 127.0.0.1: {blocked[:10]}")


@pytest.fixture
def ui_page(browser_context: BrowserContext) -> Iterator[Page]:
    page = browser_context.new_page()
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    page.add_locator_handler(
        page.get_by_text(COMMUNITY_DIALOG_TITLE),
        lambda: page.get_by_role("button", name="Skip").click(),
    )
    try:
        yield page
    finally:
        page.close()


@pytest.fixture
def recorder(
    request: pytest.FixtureRequest, ui_page: Page, dagster_ui: DagsterUi
) -> StepRecorder:
    test_name = re.sub(r"^test_", "", request.node.name)
    return StepRecorder(ui_page, test_name, dagster_ui.dagster.log_path)
