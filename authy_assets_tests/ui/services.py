"""Child processes of the UI test: the Authy emulator and ``dagster dev``, each in its own group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from authy_assets.instance import prepare_dagster_home

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EMULATOR_START_SECONDS = 60.0
DAGSTER_START_SECONDS = 120.0
STOP_SECONDS = 10.0
LOG_TAIL_CHARS = 6000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def log_tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    """Return the end of a log file, or a note that it does not exist."""
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(errors="replace")
    return text[-chars:]


@dataclass
class ChildProcess:
    """A child process started in a new session, so that it and its children form one group."""

    name: str
    process: subprocess.Popen
    log_path: Path
    url: str

    def exited(self) -> bool:
        return self.process.poll() is not None

    def stop(self) -> None:
        """Send SIGTERM to the whole process group, then SIGKILL to what is left of it."""
        _signal_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        # dagster dev stops its webserver, daemon and code server on SIGTERM, but run workers
        # launched by the daemon may outlive it; SIGKILL reaches every member left in the group.
        _signal_group(self.process, signal.SIGKILL)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pass


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def child_env(**settings: str) -> dict[str, str]:
    """Return this process's environment without proxies or AUTHY_* settings, plus ``settings``.

    Without proxy variables every loopback request stays direct.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AUTHY_") and "proxy" not in name.lower()
    }
    env["DAGSTER_DISABLE_TELEMETRY"] = "1"
    env.update(settings)
    return env


def start_child(name: str, command: list[str], env: dict[str, str], log_path: Path,
                url: str) -> ChildProcess:
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ChildProcess(name=name, process=process, log_path=log_path, url=url)


def wait_until_serving(child: ChildProcess, probe_path: str, timeout_seconds: float) -> None:
    """Wait until ``GET url + probe_path`` returns 200; raise RuntimeError with the log if not."""
    deadline = time.monotonic() + timeout_seconds
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while True:
            if child.exited():
                raise RuntimeError(
                    f"{child.name} exited with code {child.process.returncode} at start:\n"
                    + log_tail(child.log_path)
                )
            try:
                if client.get(child.url + probe_path).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{child.name} did not answer on {child.url} within {timeout_seconds:.0f} s:\n"
                    + log_tail(child.log_path)
                )
            time.sleep(0.25)


def start_emulator_process(
    workdir: Path, api_key: str, population_file: Path
) -> ChildProcess:
    """Start ``authy-assets emulator`` without latency or a rate limit that a test could reach.

    The generated population has no export-disabled users, so the population file decides
    exactly which users get error 60154.
    """
    port = free_port()
    command = [
        str(BIN / "authy-assets"), "emulator",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--latency", "none",
        "--rate-limit", "1000000",
        "--export-disabled-share", "0",
        "--population", str(population_file),
    ]
    child = start_child(
        "the Authy emulator",
        command,
        child_env(AUTHY_API_KEY=api_key),
        workdir / "emulator.log",
        f"http://127.0.0.1:{port}",
    )
    wait_until_serving(child, "/__emulator__/stats", EMULATOR_START_SECONDS)
    return child


def start_dagster_dev(workdir: Path, authy_settings: dict[str, str]) -> ChildProcess:
    """Start ``dagster dev`` on workspace.yaml, as ``make ui`` does, on a temporary instance."""
    port = free_port()
    home = prepare_dagster_home(workdir / "dagster_home")
    env = child_env(DAGSTER_HOME=str(home), **authy_settings)
    command = [
        str(BIN / "dagster"), "dev",
        "-w", str(PROJECT_ROOT / "workspace.yaml"),
        "-h", "127.0.0.1",
        "-p", str(port),
    ]
    child = start_child(
        "dagster dev", command, env, workdir / "dagster.log", f"http://127.0.0.1:{port}"
    )
    wait_until_serving(child, "/server_info", DAGSTER_START_SECONDS)
    return child
