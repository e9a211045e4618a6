"""One benchmark scenario: ``authy-assets run`` end to end against a running emulator.

Run as ``python -m benchmarks.scenario WORKDIR URL USERS BATCH_SIZE RATE_LIMIT PARALLEL`` with the
key in ``AUTHY_API_KEY``. The command runs as a child of this process, so ``RUSAGE_CHILDREN``
here covers it and every batch process it starts, and nothing else. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
RATE_WINDOW_SECONDS = 60.0


def main(workdir: str, url: str, users: str, batch_size: str, rate_limit: str, parallel: str) -> int:
    root = Path(workdir)
    home = root / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("")
    ids_file = root / "authy_user_ids.csv"
    ids_file.write_text("authy_id\n" + "".join(f"{i}\n" for i in range(1, int(users) + 1)))
    env = {
        **os.environ,
        "AUTHY_API_URL": url,
        "AUTHY_USER_IDS": str(ids_file),
        "AUTHY_DATA_DIR": str(root / "data"),
        "AUTHY_BATCH_SIZE": batch_size,
        "AUTHY_RATE_LIMIT": rate_limit,
        "DAGSTER_HOME": str(home),
    }
    started = time.time()
    completed = subprocess.run(
        [str(BIN / "authy-assets"), "run", "--parallel", parallel],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    finished = time.time()
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-5000:])
        return completed.returncode
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)

    ledger = root / "data" / "state" / "authy_ledger.sqlite3"
    with sqlite3.connect(ledger) as connection:
        requests, first_sent, last_sent = connection.execute(
            "SELECT count(*), min(requested_at), max(requested_at) FROM requests"
        ).fetchone()
    first_run_started, export_written = _run_times(home)

    budget_per_second = int(rate_limit) / RATE_WINDOW_SECONDS
    fetch_rate = (requests - 1) / (last_sent - first_sent)
    end_to_end_rate = requests / (export_written - first_run_started)
    print(
        json.dumps(
            {
                "users": int(users),
                "requests": requests,
                "fetch_seconds": last_sent - first_sent,
                "end_to_end_seconds": export_written - first_run_started,
                "command_seconds": finished - started,
                "fetch_share": fetch_rate / budget_per_second,
                "end_to_end_share": end_to_end_rate / budget_per_second,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                # ru_maxrss of children is the largest single descendant, in KiB on Linux.
                "peak_rss_bytes": usage.ru_maxrss * 1024,
            }
        )
    )
    return 0


def _run_times(home: Path) -> tuple[float, float]:
    """Return when the first run started and when the export was last materialized."""
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        records = instance.get_run_records()
        first = min(record.start_time or record.create_timestamp.timestamp() for record in records)
        export = instance.get_latest_materialization_event(dg.AssetKey("authy_phone_export"))
        return first, export.timestamp


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
