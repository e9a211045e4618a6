"""Local launchers behind ``make demo`` and ``make ui``: the emulator plus a run or the UI.

Usage: ``python -m authy_assets.local demo`` or ``python -m authy_assets.local ui``. Both start
``authy-assets emulator`` on a free 127.0.0.1 port with a fixed demo API key, point
``AUTHY_API_URL`` and ``AUTHY_API_KEY`` at it, and stop it when they end.
"""

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

from authy_assets.instance import prepare_dagster_home
from authy_assets.paths import DEFAULT_DAGSTER_HOME, PROJECT_ROOT

BIN = Path(sys.executable).parent
STARTUP_TIMEOUT_SECONDS = 60.0
# The key the local emulator accepts. It is not a secret, and keeping it the same from one
# `make demo` to the next lets a second demo reuse the responses stored by the first, as a
# second run against the real API would.
DEMO_API_KEY = "authy-assets-demo-key"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_emulator(env: dict[str, str]) -> Iterator[str]:
    """Start the emulator as a child process and yield its URL once it responds."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(BIN / "authy-assets"), "emulator", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the emulator exited with code {process.returncode} at start")
            try:
                # trust_env=False keeps HTTP_PROXY and similar settings from routing the
                # loopback probe through a proxy.
                httpx.get(f"{url}/__emulator__/stats", timeout=1.0, trust_env=False)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the emulator did not respond on {url} within 60 s") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def main(argv: list[str]) -> int:
    if argv not in (["demo"], ["ui"]):
        print("usage: python -m authy_assets.local demo|ui", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env["AUTHY_API_KEY"] = DEMO_API_KEY
    home = Path(env.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME)
    env["DAGSTER_HOME"] = str(prepare_dagster_home(home))

    with running_emulator(env) as url:
        env["AUTHY_API_URL"] = url
        print(f"Authy emulator running on {url}", flush=True)
        if argv == ["demo"]:
            return subprocess.call([str(BIN / "authy-assets"), "run"], env=env, cwd=PROJECT_ROOT)
        command = [str(BIN / "dagster"), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml")]
        try:
            return subprocess.call(command, env=env, cwd=PROJECT_ROOT)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
