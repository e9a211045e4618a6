"""The fetch loop: one request per user of a batch, sent concurrently within the app's limits.

Workers take users from a queue, wait for a send time from the shared rate limiter, record the
request in the ledger, send it, and store the response as soon as it arrives. Retryable failures
go back on the queue after a backoff. A wrong API key stops the whole fetch after one request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import ssl
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import certifi
import httpx

from authy_assets.client.limiter import SharedRateLimiter
from authy_assets.client.request_path import checked_authy_id, phone_number_path
from authy_assets.client.retry import backoff_delay, parse_retry_after
from authy_assets.client.settings import FetchSettings
from authy_assets.client.store import RequestLedger, month_of
from authy_assets.phones import FINAL_STATUSES, RETRYABLE_STATUSES, ExportStatus, classify_response

logger = logging.getLogger("authy_assets.client")

USER_AGENT = "authy-assets/0.1 (+phone number export)"
CONNECTIONS_PER_CLIENT = 8
# Marks a connection failure before anything was sent, inside this module only; the ledger
# stores it as connection_error with counted = 0.
_NOT_CONNECTED = "not_connected"


class AuthyUnauthorizedError(RuntimeError):
    """The API rejected the API key (HTTP 401, error 60001)."""


class AuthyUnreachableError(RuntimeError):
    """No connection to the API could be opened, so no request reached it."""


# How long a fetch trusts an earlier 401 for the same key. A backfill launches one run a batch;
# within this time each of them stops before its first request, instead of sending a 401 each.
KEY_REJECTION_MEMORY_SECONDS = 600.0

# Consecutive requests that fail to connect before a fetch gives up: the API or the network
# is down, and going on would only mark every user as failed.
MAX_CONSECUTIVE_CONNECT_FAILURES = 20


@dataclass(frozen=True)
class FetchProgress:
    users_done: int
    users_total: int
    requests_sent: int
    requests_per_minute: float
    seconds_left: float | None


@dataclass
class FetchReport:
    """Counts of one fetch. The responses themselves are in the ledger."""

    users_total: int
    users_skipped: int = 0
    users_quota_exhausted: int = 0
    requests_sent: int = 0
    responses_by_status: Counter[str] = field(default_factory=Counter)
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def seconds(self) -> float:
        return max(0.0, self.finished_at - self.started_at)

    @property
    def requests_per_minute(self) -> float:
        return 60.0 * self.requests_sent / self.seconds if self.seconds > 0 else 0.0


ProgressCallback = Callable[[FetchProgress], None]


def fetch_users(
    settings: FetchSettings,
    authy_ids: Sequence[int],
    *,
    batch_key: str | None = None,
    run_id: str | None = None,
    earlier_run_ids: Sequence[str] = (),
    on_progress: ProgressCallback | None = None,
    log: logging.Logger | logging.LoggerAdapter = logger,
) -> FetchReport:
    """Request the phone number of every user in ``authy_ids`` who has no final response yet.

    Users with a final response this month (ok, not found, export disabled, another API error)
    are skipped, and so are users whose monthly quota is spent. Requests stored under
    ``earlier_run_ids`` count toward ``max_attempts_per_run``, like the key test that
    `authy-assets run` sends before its batch runs. Raises
    :class:`AuthyUnauthorizedError` when the API rejects the key, and
    :class:`AuthyUnreachableError` when no connection to it can be opened. Raises ValueError
    before any request when an id is not an integer from 1 to 2**63 - 1.
    """
    ids = [checked_authy_id(value) for value in authy_ids]
    fetch = _Fetch(
        settings,
        ids,
        batch_key=batch_key,
        run_id=run_id,
        earlier_run_ids=list(earlier_run_ids),
        log=log,
    )
    return asyncio.run(fetch.run(on_progress))


class _Fetch:
    def __init__(
        self,
        settings: FetchSettings,
        authy_ids: list[int],
        *,
        batch_key: str | None,
        run_id: str | None,
        earlier_run_ids: list[str],
        log: logging.Logger | logging.LoggerAdapter,
    ) -> None:
        self.settings = settings
        self.earlier_run_ids = earlier_run_ids
        self.authy_ids = authy_ids
        self.batch_key = batch_key
        self.run_id = run_id
        self.log = log
        self.rng = random.Random()
        self.report = FetchReport(users_total=len(authy_ids))
        self.queue: asyncio.Queue[int | None] = asyncio.Queue()
        self.attempts_this_run: Counter[int] = Counter()
        self.pending = 0
        self.users_done = 0
        self.all_done = asyncio.Event()
        self.consecutive_connect_failures = 0
        # The first error that stops every worker (a rejected key, an unreachable API).
        self.fatal: BaseException | None = None

    async def run(self, on_progress: ProgressCallback | None) -> FetchReport:
        settings = self.settings
        self.report.started_at = time.time()
        self.month = month_of(self.report.started_at)
        self.ledger = RequestLedger(settings.ledger_path, settings.api_scope)
        self.limiter = SharedRateLimiter(
            settings.limiter_path,
            settings.api_scope,
            limit=settings.rate_limit,
            window_seconds=settings.rate_window_seconds,
            margin_seconds=settings.rate_margin_seconds,
        )
        try:
            self._check_key_not_rejected()
            to_fetch = self._users_to_fetch()
            if to_fetch:
                await self._fetch_all(to_fetch, on_progress)
        finally:
            self.report.finished_at = time.time()
            self.ledger.close()
            self.limiter.close()
        return self.report

    def _check_key_not_rejected(self) -> None:
        """Raise AuthyUnauthorizedError when the API rejected this key a short while ago."""
        rejected_at = self.ledger.key_rejected_at(self.settings.base_url)
        if rejected_at is None:
            return
        age = max(self.report.started_at - rejected_at, 0.0)
        if age >= KEY_REJECTION_MEMORY_SECONDS:
            return
        when = datetime.fromtimestamp(rejected_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        raise AuthyUnauthorizedError(
            f"the Authy API at {self.settings.base_url} rejected the API key (HTTP 401, error"
            f" 60001) at {when} UTC, {age:.0f} s ago, and no request was sent: check"
            " AUTHY_API_KEY. The same key is tried again"
            f" {KEY_REJECTION_MEMORY_SECONDS / 60:.0f} minutes after that response."
        )

    def _users_to_fetch(self) -> list[int]:
        latest = self.ledger.latest_statuses(self.authy_ids, month=self.month)
        spent = self.ledger.spent(self.authy_ids, month=self.month)
        self.attempts_this_run.update(
            self.ledger.counted_by_runs(self.authy_ids, self.earlier_run_ids, month=self.month)
        )
        to_fetch = []
        for authy_id in self.authy_ids:
            if latest.get(authy_id) in FINAL_STATUSES:
                self.report.users_skipped += 1
            elif spent.get(authy_id, 0) >= self.settings.monthly_quota:
                self.report.users_quota_exhausted += 1
            elif self.attempts_this_run[authy_id] >= self.settings.max_attempts_per_run:
                # The key test of this run already spent the user's attempts.
                self.report.users_skipped += 1
            else:
                to_fetch.append(authy_id)
        self.users_done = len(self.authy_ids) - len(to_fetch)
        if self.users_done:
            skipped = self.report.users_skipped
            exhausted = self.report.users_quota_exhausted
            self.log.info(
                f"{skipped} {'user already has' if skipped == 1 else 'users already have'} a"
                f" final response this month and {exhausted}"
                f" {'has' if exhausted == 1 else 'have'} spent this month's quota of"
                f" {self.settings.monthly_quota} requests; neither group is asked again"
            )
        return to_fetch

    async def _open_clients(
        self, stack: contextlib.AsyncExitStack, worker_count: int
    ) -> list[httpx.AsyncClient]:
        """Open the httpx clients that the workers share, each with its own small pool."""
        settings = self.settings
        timeout = httpx.Timeout(
            connect=settings.connect_timeout_seconds,
            read=settings.read_timeout_seconds,
            write=settings.connect_timeout_seconds,
            pool=None,
        )
        headers = {
            "X-Authy-API-Key": settings.api_key,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        limits = httpx.Limits(
            max_connections=CONNECTIONS_PER_CLIENT,
            max_keepalive_connections=CONNECTIONS_PER_CLIENT,
        )
        # One TLS context for every client: loading the CA bundle took about 20 ms per client
        # on the 2-core development machine.
        tls_context = ssl.create_default_context(cafile=certifi.where())

        # httpcore 1.0 scans every connection of a pool on each request, so one client with a
        # hundred connections spent most of its CPU on that scan. Several small clients, each
        # serving a fixed group of workers, keep the scan short.
        clients = []
        for _ in range(math.ceil(worker_count / CONNECTIONS_PER_CLIENT)):
            client = httpx.AsyncClient(
                base_url=settings.base_url.rstrip("/"),
                headers=headers,
                timeout=timeout,
                limits=limits,
                verify=tls_context,
                follow_redirects=False,
            )
            clients.append(await stack.enter_async_context(client))
        return clients

    async def _fetch_all(self, to_fetch: list[int], on_progress: ProgressCallback | None) -> None:
        worker_count = min(self.settings.concurrency, max(1, len(to_fetch) - 1))
        async with contextlib.AsyncExitStack() as stack:
            clients = await self._open_clients(stack, worker_count)

            # One request alone first: a wrong key then costs one rejected request, not one
            # per worker.
            self.pending = len(to_fetch)
            await self._handle(clients[0], to_fetch[0])
            for authy_id in to_fetch[1:]:
                self.queue.put_nowait(authy_id)

            progress = asyncio.create_task(self._report_progress(on_progress))
            workers = [
                asyncio.create_task(self._worker(clients[index % len(clients)]))
                for index in range(worker_count)
            ]

            try:
                if self.pending > 0:
                    await self.all_done.wait()
            finally:
                for _ in workers:
                    self.queue.put_nowait(None)
                for task in [*workers, progress]:
                    task.cancel()
                await asyncio.gather(*workers, progress, return_exceptions=True)
                if on_progress is not None:
                    on_progress(self._progress())
        if self.fatal is not None:
            raise self.fatal

    async def _worker(self, client: httpx.AsyncClient) -> None:
        while True:
            authy_id = await self.queue.get()
            if authy_id is None:
                return
            try:
                await self._handle(client, authy_id)
            except (AuthyUnauthorizedError, AuthyUnreachableError) as error:
                self.fatal = error
                self.all_done.set()
                return
            except Exception as error:  # noqa: BLE001 - one user's failure must not stop the batch
                self.log.error(f"authy_id {authy_id}: unexpected error {type(error).__name__}")
                self.fatal = error
                self.all_done.set()
                return

    async def _handle(self, client: httpx.AsyncClient, authy_id: int) -> None:
        settings = self.settings
        await self.limiter.wait_for_slot()
        if self.fatal is not None:
            return
        # The month of the request itself: a fetch that runs past midnight UTC at the end of a
        # month spends the new month's quota from then on.
        reservation = self.ledger.reserve(
            authy_id,
            month=month_of(time.time()),
            quota=settings.monthly_quota,
            batch_key=self.batch_key,
            run_id=self.run_id,
        )
        if reservation is None:
            # Another run spent the quota since this fetch started.
            self.report.users_quota_exhausted += 1
            self._finish_user()
            return
        request_id, attempt = reservation
        self.attempts_this_run[authy_id] += 1
        self.report.requests_sent += 1

        status, retry_after = await self._send(client, authy_id, request_id)
        self.report.responses_by_status[status] += 1

        if status == ExportStatus.unauthorized:
            self.ledger.record_key_rejection(settings.base_url, time.time())
            raise AuthyUnauthorizedError(
                f"the Authy API at {settings.base_url} rejected the API key (HTTP 401, error"
                " 60001): check AUTHY_API_KEY; no further requests were sent"
            )
        if status == _NOT_CONNECTED:
            self.consecutive_connect_failures += 1
            if (
                self.report.requests_sent == self.consecutive_connect_failures == 1
                or self.consecutive_connect_failures >= MAX_CONSECUTIVE_CONNECT_FAILURES
            ):
                failures = self.consecutive_connect_failures
                failed = (
                    "the first attempt failed, and it did"
                    if failures == 1
                    else f"{failures} attempts in a row failed, and they did"
                )
                raise AuthyUnreachableError(
                    f"could not connect to the Authy API at {settings.base_url} ({failed} not"
                    " reach the API or spend any user's quota): check AUTHY_API_URL and the"
                    " network, then run again"
                )
            status = ExportStatus.connection_error
        else:
            self.consecutive_connect_failures = 0
        if status == ExportStatus.rate_limited:
            self.limiter.slow_down()
        elif status in FINAL_STATUSES:
            self.limiter.speed_up()
        retry = (
            status in RETRYABLE_STATUSES
            and self.attempts_this_run[authy_id] < settings.max_attempts_per_run
            and attempt < settings.monthly_quota
        )
        if not retry:
            self._finish_user()
            return
        delay = backoff_delay(
            self.attempts_this_run[authy_id],
            base_seconds=settings.backoff_base_seconds,
            max_seconds=settings.backoff_max_seconds,
            rng=self.rng,
        )
        if retry_after is not None:
            delay = max(delay, min(retry_after, settings.max_retry_after_seconds))
        if status == ExportStatus.rate_limited:
            # A 429 may come from the app's rate limit, which is shared by every worker and
            # every process: hold all of them back, not only this user.
            self.limiter.pause_until(time.time() + delay)
        self.log.info(
            f"authy_id {authy_id}: {status} on attempt {attempt}, retrying in {delay:.1f} s"
        )
        asyncio.get_running_loop().call_later(delay, self.queue.put_nowait, authy_id)

    async def _send(
        self, client: httpx.AsyncClient, authy_id: int, request_id: int
    ) -> tuple[str, float | None]:
        started = time.monotonic()
        path = phone_number_path(authy_id)
        try:
            response = await client.get(path)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            # No connection was opened, so the request cannot have reached the API and does
            # not count against the user's quota.
            self.log.warning(f"authy_id {authy_id}: could not connect ({type(error).__name__})")
            self._record_failure(request_id, ExportStatus.connection_error, started, counted=False)
            return _NOT_CONNECTED, None
        except httpx.TimeoutException:
            self._record_failure(request_id, ExportStatus.timeout, started)
            return ExportStatus.timeout, None
        except httpx.TransportError as error:
            self.log.warning(f"authy_id {authy_id}: connection failed ({type(error).__name__})")
            self._record_failure(request_id, ExportStatus.connection_error, started)
            return ExportStatus.connection_error, None

        duration_ms = (time.monotonic() - started) * 1000
        content_type = response.headers.get("content-type")
        body = response.content.decode("utf-8", errors="replace")
        classification = classify_response(response.status_code, body, content_type)
        status = classification.status
        self.ledger.record_response(
            request_id,
            outcome="response",
            status=status,
            http_status=response.status_code,
            error_code=classification.error_code,
            content_type=content_type,
            body=body,
            duration_ms=duration_ms,
            # A request with a wrong key is not tied to any user of the app.
            counted=status != ExportStatus.unauthorized,
        )
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=time.time())
        return status, retry_after

    def _record_failure(
        self, request_id: int, status: str, started: float, *, counted: bool = True
    ) -> None:
        self.ledger.record_response(
            request_id,
            outcome=str(status),
            status=status,
            duration_ms=(time.monotonic() - started) * 1000,
            counted=counted,
        )

    def _finish_user(self) -> None:
        self.users_done += 1
        self.pending -= 1
        if self.pending <= 0:
            self.all_done.set()

    def _progress(self) -> FetchProgress:
        elapsed = max(1e-9, time.time() - self.report.started_at)
        users_per_second = (self.users_done - self.report.users_skipped) / elapsed
        left = self.report.users_total - self.users_done
        return FetchProgress(
            users_done=self.users_done,
            users_total=self.report.users_total,
            requests_sent=self.report.requests_sent,
            requests_per_minute=60.0 * self.report.requests_sent / elapsed,
            seconds_left=left / users_per_second if users_per_second > 0 else None,
        )

    async def _report_progress(self, on_progress: ProgressCallback | None) -> None:
        while True:
            await asyncio.sleep(self.settings.progress_interval_seconds)
            progress = self._progress()
            if on_progress is not None:
                on_progress(progress)
