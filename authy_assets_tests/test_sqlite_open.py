"""Processes that open the same new database at the same moment all get a WAL connection."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from authy_assets.client.store import RequestLedger

PROCESSES = 4
ROUNDS = 15


def _open_ledger(path: str, barrier) -> None:
    barrier.wait()
    with RequestLedger(Path(path), "app-test") as ledger:
        ledger.reserve(1, month="2026-12", quota=100, batch_key=None, run_id=None)


def test_ledger_opens_concurrently(tmp_path):
    context = multiprocessing.get_context("fork")
    for round_number in range(ROUNDS):
        path = tmp_path / f"ledger-{round_number}.sqlite3"
        barrier = context.Barrier(PROCESSES)
        processes = [
            context.Process(target=_open_ledger, args=(str(path), barrier))
            for _ in range(PROCESSES)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)

        assert [process.exitcode for process in processes] == [0] * PROCESSES
        with RequestLedger(path, "app-test") as ledger:
            assert ledger.spent([1], month="2026-12") == {1: PROCESSES}
