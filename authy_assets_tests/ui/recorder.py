"""Screenshots of each step of the UI test, and failure messages with the page and the Dagster log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from authy_assets_tests.ui.services import log_tail

if TYPE_CHECKING:
    from playwright.sync_api import Page

ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / ".ci" / "artifacts" / "ui"


class StepRecorder:
    """Numbers the steps of one test, saves a screenshot after each, and explains failures."""

    def __init__(self, page: Page, test_name: str, dagster_log: Path) -> None:
        self.page = page
        self.test_name = test_name
        self.dagster_log = dagster_log
        self.count = 0
        ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot as <test>-<NN>-<name>.png, print its path and return it."""
        self.count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        path = ARTIFACTS_DIR / f"{self.test_name}-{self.count:02d}-{slug}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}", flush=True)
        return path

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Run one step and screenshot its result.

        On any exception, saves a screenshot of the page as it was and raises AssertionError with
        the step, the error, the screenshot's path and the tail of the dagster log.
        """
        try:
            yield
        except Exception as error:
            try:
                shot = str(self.screenshot(f"{name} failed"))
            # A page that crashed or closed cannot be captured; the message still gets the log.
            except Exception as screenshot_error:
                shot = f"(no screenshot: {screenshot_error})"
            raise AssertionError(
                f"step {name!r} failed: {type(error).__name__}: {error}\n"
                f"page: {self.page.url}\nscreenshot: {shot}\n"
                f"tail of the dagster log ({self.dagster_log}):\n{log_tail(self.dagster_log)}"
            ) from error
        self.screenshot(name)
