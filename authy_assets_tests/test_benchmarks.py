"""The benchmark scripts run end to end on a small scale (no figure is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from authy_assets_tests.conftest import API_KEY
from benchmarks.run import format_table

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _run_module(*args: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", *args],
        env={**os.environ, "AUTHY_API_KEY": API_KEY},
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_scenario_reports_every_figure(start_authy_emulator, tmp_path):
    emulator = start_authy_emulator(population_size=100)

    figures = _run_module(
        "benchmarks.scenario", str(tmp_path / "run"), emulator.url, "60", "20", "6000", "2"
    )

    assert figures["users"] == 60
    assert figures["requests"] == 60
    assert 0 < figures["fetch_share"]
    assert 0 < figures["end_to_end_share"] <= figures["fetch_share"]
    assert figures["cpu_seconds"] > 0
    assert figures["peak_rss_bytes"] > 0
    assert emulator.stats()["requests_total"] == 60


def test_baseline_counts_requests(start_authy_emulator):
    emulator = start_authy_emulator(population_size=10_000)

    figures = _run_module("benchmarks.baselines", "threads", emulator.url, "1", "1")

    assert figures["requests"] == emulator.stats()["requests_total"]
    assert figures["requests"] > 0


def test_table_has_a_row_per_run():
    run = {
        "users": 3,
        "fetch_share": 0.5,
        "status_429": 0,
        "max_requests_in_window": 3,
        "limit_per_window": 1500,
        "cpu_seconds": 1.0,
        "peak_rss_bytes": 2**20,
    }
    table = format_table({"A": {**run, "end_to_end_share": 0.25}, "baseline": run})

    lines = table.splitlines()
    assert len(lines) == 4
    assert lines[2].startswith("| A | 3 | 50.0% | 25.0% |")
    assert "| n/a |" in lines[3]
