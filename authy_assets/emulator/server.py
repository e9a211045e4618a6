"""Running the emulator: in a background thread for tests, in the foreground for the CLI."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx
from aiohttp import web

from authy_assets.emulator.app import RESET_STATS_PATH, STATS_PATH, create_app
from authy_assets.emulator.config import EmulatorConfig

logger = logging.getLogger("authy_assets.emulator")

# Handlers still running at shutdown (slow faults) get this long before they are cancelled.
SHUTDOWN_TIMEOUT_SECONDS = 1.0
START_TIMEOUT_SECONDS = 30.0
# Maximum connections that the OS queues before the server accepts them. A benchmark opens
# many at once.
LISTEN_BACKLOG = 1024


class RunningEmulator:
    """An emulator serving from its own event loop in a background thread.

    Use it as a context manager, or call ``stop()`` when done.
    """

    def __init__(
        self,
        url: str,
        port: int,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
        runner: web.AppRunner,
    ) -> None:
        self._url = url
        self._port = port
        self._loop = loop
        self._thread = thread
        self._runner = runner
        self._stopped = False

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, such as ``http://127.0.0.1:43125``."""
        return self._url

    @property
    def port(self) -> int:
        return self._port

    def stats(self) -> dict[str, Any]:
        """Fetch the counters from the stats endpoint."""
        with httpx.Client(trust_env=False, timeout=10.0) as client:
            response = client.get(self._url + STATS_PATH)
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result

    def reset_stats(self) -> None:
        """Zero the request counters. Quotas and the rate window keep their state."""
        with httpx.Client(trust_env=False, timeout=10.0) as client:
            client.post(self._url + RESET_STATS_PATH).raise_for_status()

    def stop(self) -> None:
        """Stop serving and join the thread. Calling it again does nothing."""
        if self._stopped:
            return
        self._stopped = True
        cleanup = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            cleanup.result(timeout=SHUTDOWN_TIMEOUT_SECONDS + 10.0)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10.0)
        logger.info("Authy emulator at %s stopped", self._url)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_emulator(config: EmulatorConfig) -> RunningEmulator:
    """Start an emulator in a background thread and return once it is listening.

    Raises PopulationFileError for a bad population file and OSError if the port cannot
    be bound, in the calling thread.
    """
    app = create_app(config)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    started: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            started["runner"], started["url"], started["port"] = loop.run_until_complete(
                _start_site(app, config)
            )
        except BaseException as exc:  # handed to the calling thread below
            started["error"] = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name="authy-emulator", daemon=True)
    thread.start()
    if not ready.wait(timeout=START_TIMEOUT_SECONDS):
        raise RuntimeError(f"Authy emulator did not start within {START_TIMEOUT_SECONDS} s")
    if "error" in started:
        thread.join()
        raise started["error"]
    return RunningEmulator(started["url"], started["port"], loop, thread, started["runner"])


def serve_forever(config: EmulatorConfig, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve in the foreground until SIGINT or SIGTERM.

    ``on_ready`` is called with the URL once the server is listening. The INFO log line about
    the start names the URL only when there is no ``on_ready``, so that a caller that prints the
    URL itself does not show it twice.
    """
    asyncio.run(_serve(config, on_ready))


async def _serve(config: EmulatorConfig, on_ready: Callable[[str], None] | None) -> None:
    app = create_app(config)
    runner, url, _ = await _start_site(app, config, url_in_log=on_ready is None)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signal_number, stop_requested.set)
            installed.append(signal_number)
        except (NotImplementedError, RuntimeError):
            # Outside the main thread only KeyboardInterrupt or cancellation stop the server.
            logger.warning("Cannot install a handler for %s; stop with Ctrl-C", signal_number.name)
    try:
        if on_ready is not None:
            on_ready(url)
        await stop_requested.wait()
        logger.info("Authy emulator at %s received a stop signal", url)
    finally:
        for signal_number in installed:
            loop.remove_signal_handler(signal_number)
        await runner.cleanup()
        logger.info("Authy emulator at %s stopped", url)


async def _start_site(
    app: web.Application, config: EmulatorConfig, *, url_in_log: bool = True
) -> tuple[web.AppRunner, str, int]:
    runner = web.AppRunner(
        app,
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, backlog=LISTEN_BACKLOG)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    host, port = runner.addresses[0][:2]
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    settings = (
        f"seed {config.seed}, {config.population_size} generated users, rate limit"
        f" {config.rate_limit} per {config.rate_window_seconds:g} s, monthly quota"
        f" {config.monthly_quota}"
    )
    if url_in_log:
        logger.info("Authy emulator listening on %s (%s)", url, settings)
    else:
        logger.info("Authy emulator started (%s)", settings)
    return runner, url, port
