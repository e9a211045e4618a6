"""Baselines: how common export scripts use the rate budget, for the same time slice.

Run as ``python -m benchmarks.baselines sequential|threads URL SECONDS FIRST_ID``, with the key in
``AUTHY_API_KEY``. Prints one JSON object: requests completed and the process's CPU and memory.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

THREADS = 5


def _path(authy_id: int) -> str:
    return f"/protected/json/users/{authy_id}/phone_number"


def run_sequential(client: httpx.Client, deadline: float, first_id: int) -> int:
    done = 0
    authy_id = first_id
    while time.monotonic() < deadline:
        client.get(_path(authy_id))
        done += 1
        authy_id += 1
    return done


def run_threads(client: httpx.Client, deadline: float, first_id: int) -> int:
    lock = threading.Lock()
    state = {"next": first_id, "done": 0}

    def work() -> None:
        while time.monotonic() < deadline:
            with lock:
                authy_id = state["next"]
                state["next"] += 1
            client.get(_path(authy_id))
            with lock:
                state["done"] += 1

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(work) for _ in range(THREADS)]:
            future.result()
    return state["done"]


def main(kind: str, url: str, seconds: str, first_id: str) -> int:
    headers = {"X-Authy-API-Key": os.environ["AUTHY_API_KEY"]}
    runner = {"sequential": run_sequential, "threads": run_threads}[kind]
    with httpx.Client(base_url=url, headers=headers, timeout=30.0, trust_env=False) as client:
        started = time.monotonic()
        done = runner(client, started + float(seconds), int(first_id))
        elapsed = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "requests": done,
                "seconds": elapsed,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_rss_bytes": usage.ru_maxrss * 1024,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
