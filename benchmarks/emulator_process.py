"""Start ``authy-assets emulator`` in its own process, so it does not share the client's GIL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def emulator_process(api_key: str, *options: str) -> Iterator[str]:
    """Run the emulator on a free loopback port with extra CLI ``options``; yield its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AUTHY_API_KEY": api_key}
    process = subprocess.Popen(
        [str(BIN / "authy-assets"), "emulator", "--port", str(port), *options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/__emulator__/stats", timeout=1.0, trust_env=False)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not start on {url}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def emulator_stats(url: str) -> dict:
    return httpx.get(f"{url}/__emulator__/stats", timeout=30.0, trust_env=False).json()
