"""SIGINT and SIGTERM handling for `authy-assets run` while its batch processes fetch.

Without it, Ctrl-C interrupts the batch runs that are in progress, but the main process goes on
handing the next batches to its pool, and a SIGTERM sent to the main process alone leaves the
batch processes fetching. Here the first signal raises StopRequested in the main thread; the
caller then stops its batch processes with ``stop_children``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# Time the batch processes get to end their Dagster runs after SIGINT, so that the requests in
# flight get their responses or time out and each run stores its failure in the instance.
CHILD_STOP_SECONDS = 30.0
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequested(Exception):  # noqa: N818 - a request to stop, not an error
    """The process received SIGINT or SIGTERM."""

    def __init__(self, signal_number: int) -> None:
        self.signal_number = signal_number
        self.signal_name = signal.Signals(signal_number).name
        super().__init__(f"received {self.signal_name}")


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Raise StopRequested in the main thread on the first SIGINT or SIGTERM inside the block.

    Later signals inside the block are ignored, so that the caller can stop its batch processes
    inside the block without being cut short.
    """
    received: list[int] = []

    def handle(signal_number: int, _frame: FrameType | None) -> None:
        received.append(signal_number)
        if len(received) == 1:
            raise StopRequested(signal_number)

    previous = {number: signal.signal(number, handle) for number in _SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def stop_children(timeout_seconds: float = CHILD_STOP_SECONDS) -> None:
    """Send SIGINT to every child process, wait for them to exit, then kill the rest.

    Dagster turns SIGINT in a batch process into an interrupted run, which it records as
    failed. A child still alive after ``timeout_seconds`` gets SIGKILL; the request ledger
    keeps every response received before that.
    """
    children = multiprocessing.active_children()
    for child in children:
        _send(child.pid, signal.SIGINT)
    deadline = time.monotonic() + timeout_seconds
    for child in children:
        child.join(max(deadline - time.monotonic(), 0.0))
    for child in children:
        if child.is_alive():
            _send(child.pid, signal.SIGKILL)
            child.join()


def _send(pid: int | None, signal_number: int) -> None:
    if pid is None:
        return
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        pass
