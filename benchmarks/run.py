"""``make bench``: the export's share of the Authy rate budget, next to two common baselines.

Scenario A fetches 3,000 users in 3 batches launched at once, the way a backfill from the UI
runs them, at the real limit of 1500 requests a minute. Scenario B fetches 30,000 users with the
emulator and the client at 20 times that rate, to show how cost grows with users. Scenario C
repeats A with a median latency of 1,000 ms. The baselines (a sequential httpx loop and a pool
of five threads) get the same emulator and a fixed time slice each.

Writes ``benchmarks/results/latest.json`` and a dated copy, and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.emulator_process import emulator_process, emulator_stats

RESULTS = Path(__file__).resolve().parent / "results"
LIMIT = 1500
BASELINE_SECONDS = 60.0


def run_scenario(name: str, url: str, users: int, batch_size: int, limit: int, parallel: int,
                 workdir: Path) -> dict:
    httpx.post(f"{url}/__emulator__/reset-stats", timeout=30.0, trust_env=False)
    print(f"scenario {name}: {users} users, limit {limit}/min ...", flush=True)
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.scenario", str(workdir / name), url, str(users),
         str(batch_size), str(limit), str(parallel)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return {**result, **_limit_figures(emulator_stats(url), limit)}


def run_baseline(kind: str, url: str, first_id: int) -> dict:
    httpx.post(f"{url}/__emulator__/reset-stats", timeout=30.0, trust_env=False)
    print(f"baseline {kind}: {BASELINE_SECONDS:.0f} s ...", flush=True)
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.baselines", kind, url, str(BASELINE_SECONDS),
         str(first_id)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    rate_per_minute = 60.0 * result["requests"] / result["seconds"]
    return {
        "users": result["requests"],
        "fetch_share": rate_per_minute / LIMIT,
        "cpu_seconds": result["cpu_seconds"],
        "peak_rss_bytes": result["peak_rss_bytes"],
        **_limit_figures(emulator_stats(url), LIMIT),
    }


def _limit_figures(stats: dict, limit: int) -> dict:
    return {
        "status_429": stats["requests_per_status"].get("429", 0),
        "max_requests_in_window": stats["max_requests_in_window"],
        "limit_per_window": limit,
    }


def format_table(scenarios: dict) -> str:
    header = ("run", "users", "fetch share", "end-to-end share", "429s", "max in 60 s",
              "limit", "CPU s", "peak RSS MiB")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, figures in scenarios.items():
        end_to_end = figures.get("end_to_end_share")
        cells = (
            name,
            str(figures["users"]),
            f"{100 * figures['fetch_share']:.1f}%",
            "n/a" if end_to_end is None else f"{100 * end_to_end:.1f}%",
            str(figures["status_429"]),
            str(figures["max_requests_in_window"]),
            str(figures["limit_per_window"]),
            f"{figures['cpu_seconds']:.1f}",
            f"{figures['peak_rss_bytes'] / 2**20:.0f}",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["A", "B", "C", "baselines"],
                        help="which parts to run: A, B, C, baselines")
    parser.add_argument("--parallel", type=int, default=3, help="batch processes at once")
    args = parser.parse_args()

    api_key = secrets.token_hex(16)
    os.environ["AUTHY_API_KEY"] = api_key
    workdir = Path(tempfile.mkdtemp(prefix="authy-bench-"))
    scenarios: dict[str, dict] = {}
    try:
        if "A" in args.only or "baselines" in args.only:
            with emulator_process(api_key, "--population-size", "300000") as url:
                if "A" in args.only:
                    scenarios["A"] = run_scenario("A", url, 3000, 1000, LIMIT, args.parallel,
                                                  workdir)
                if "baselines" in args.only:
                    scenarios["baseline_sequential"] = run_baseline("sequential", url, 100_001)
                    scenarios["baseline_threads"] = run_baseline("threads", url, 200_001)
        if "B" in args.only:
            fast = str(20 * LIMIT)
            with emulator_process(api_key, "--population-size", "30000",
                                  "--rate-limit", fast) as url:
                scenarios["B"] = run_scenario("B", url, 30000, 3000, 20 * LIMIT, args.parallel,
                                              workdir)
        if "C" in args.only:
            with emulator_process(api_key, "--latency-median-ms", "1000") as url:
                scenarios["C"] = run_scenario("C", url, 3000, 1000, LIMIT, args.parallel, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    now = datetime.now(UTC)
    report = {
        "written_at": now.isoformat(timespec="seconds"),
        "command": "make bench",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "scenarios": scenarios,
    }
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(report, indent=2)
    (RESULTS / "latest.json").write_text(text)
    (RESULTS / f"{now:%Y-%m-%dT%H%M%SZ}.json").write_text(text)
    print(format_table(scenarios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
