"""aiohttp application of the emulator: the export endpoint, its limits, faults and stats.

Each request is decided synchronously on arrival (key, rate limit, quota, user, fault), so
the counters never interleave. Only then does the handler sleep for the latency and send
the response. A fault comes from the user's line in the population file when that line
gives the request one, else from the random fault shares.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import random
from collections import Counter
from typing import Any

from aiohttp import web

from authy_assets.emulator.config import EmulatorConfig
from authy_assets.emulator.latency import LatencySampler, median_seconds
from authy_assets.emulator.limits import MonthlyQuota, SlidingWindowLimiter, WindowPeakCounter
from authy_assets.emulator.population import (
    FAULT_KINDS,
    PhoneUser,
    Population,
    RawResponse,
    UserFault,
    number_templates,
)
from authy_assets.emulator.population_file import PopulationFile, load_population_file
from authy_assets.emulator.responses import (
    EXPORT_DISABLED,
    HTML_CONTENT_TYPE,
    INTERNAL_ERROR,
    INVALID_API_KEY,
    INVALID_PARAMETER,
    SERVICE_UNAVAILABLE_HTML,
    TOO_MANY_REQUESTS,
    USER_NOT_FOUND,
    Outcome,
    error_outcome,
    truncated_json,
)

logger = logging.getLogger("authy_assets.emulator")

API_KEY_HEADER = "X-Authy-API-Key"
PHONE_NUMBER_PATH = "/protected/json/users/{authy_id}/phone_number"
STATS_PATH = "/__emulator__/stats"
RESET_STATS_PATH = "/__emulator__/reset-stats"
# NOTE: Authy ids are assumed to fit a signed 64-bit integer, so larger ids get error 60004.
MAX_AUTHY_ID = 2**63 - 1


class EmulatorStats:
    """Request counters served by the stats endpoint. A reset leaves the limits untouched."""

    def __init__(self, window_seconds: float) -> None:
        self.window = WindowPeakCounter(window_seconds)
        self.reset()

    def reset(self) -> None:
        self.requests_total = 0
        self.requests_rejected_key = 0
        self.requests_dropped = 0
        self.per_status: Counter[int] = Counter()
        self.per_user: Counter[int] = Counter()
        self.window.reset()


class EmulatorState:
    """The population, limits, fault source and counters of one emulator instance."""

    def __init__(self, config: EmulatorConfig, population: Population) -> None:
        self.config = config
        self.population = population
        self.stats = EmulatorStats(config.rate_window_seconds)
        median = median_seconds(config.latency, config.latency_median_ms)
        self.latency = LatencySampler(median, config.seed)
        self._clock = config.clock
        self._api_key = config.api_key.encode()
        self._limiter = SlidingWindowLimiter(config.rate_limit, config.rate_window_seconds)
        self._quota = MonthlyQuota(config.monthly_quota)
        self._fault_rng = random.Random(f"authy-emulator-faults:{config.seed}")
        self._fault_bounds = _cumulative_fault_bounds(config)
        # Requests per user that reached the fault step, for users with faults of their own.
        # A stats reset keeps them, so a user's fault list never starts over.
        self._fault_step_requests: Counter[int] = Counter()

        retry_after = () if config.retry_after is None else (("Retry-After", config.retry_after),)
        self._unauthorized = error_outcome(401, INVALID_API_KEY)
        self._invalid_id = error_outcome(400, INVALID_PARAMETER)
        self._limited = error_outcome(config.rate_limited_status, TOO_MANY_REQUESTS, retry_after)
        self._not_found = error_outcome(config.not_found_status, USER_NOT_FOUND)
        self._export_disabled = error_outcome(config.export_disabled_status, EXPORT_DISABLED)
        self._internal_error = error_outcome(500, INTERNAL_ERROR)
        self._unavailable = Outcome(503, SERVICE_UNAVAILABLE_HTML, HTML_CONTENT_TYPE)

    def decide(self, api_key: str | None, raw_authy_id: str) -> Outcome:
        """Apply the key check, the rate limit, the quota and the faults to one request."""
        now = self._clock()
        stats = self.stats
        presented = None if api_key is None else api_key.encode("utf-8", "replace")
        if presented is None or not hmac.compare_digest(presented, self._api_key):
            stats.requests_rejected_key += 1
            return self._counted(self._unauthorized)

        stats.requests_total += 1
        stats.window.record(now)
        authy_id = parse_authy_id(raw_authy_id)
        if authy_id is not None:
            stats.per_user[authy_id] += 1

        if not self._limiter.try_acquire(now):
            if authy_id is not None and self.config.app_limited_counts_for_user:
                self._quota.record(authy_id, now)
            return self._counted(self._limited)
        if authy_id is None:
            return self._counted(self._invalid_id)
        if not self._quota.record(authy_id, now):
            return self._counted(self._limited)
        return self._counted(self._with_fault(authy_id, self._response_for(authy_id)))

    def stats_payload(self) -> dict[str, Any]:
        stats = self.stats
        per_status = {str(status): count for status, count in sorted(stats.per_status.items())}
        per_user = {str(user): count for user, count in sorted(stats.per_user.items())}
        return {
            "requests_total": stats.requests_total,
            "requests_rejected_key": stats.requests_rejected_key,
            "requests_dropped": stats.requests_dropped,
            "requests_per_status": per_status,
            "requests_per_user": per_user,
            "max_requests_in_window": stats.window.peak,
            "rate_limit": self.config.rate_limit,
            "rate_window_seconds": self.config.rate_window_seconds,
            "monthly_quota": self.config.monthly_quota,
        }

    def _response_for(self, authy_id: int) -> Outcome:
        entry = self.population.lookup(authy_id)
        if entry is None:
            return self._not_found
        if isinstance(entry, RawResponse):
            return _raw_outcome(entry)
        if entry.export_disabled:
            return self._export_disabled
        return Outcome(200, _user_body(entry))

    def _with_fault(self, authy_id: int, outcome: Outcome) -> Outcome:
        user_faults = self.population.faults_for(authy_id)
        if user_faults is not None:
            self._fault_step_requests[authy_id] += 1
            fault = user_faults.fault_for(self._fault_step_requests[authy_id])
            if fault is not None:
                return self._apply_fault(fault, outcome)

        bounds = self._fault_bounds
        if bounds[-1] <= 0.0:
            return outcome
        draw = self._fault_rng.random()
        for kind, bound in zip(FAULT_KINDS, bounds):
            if draw < bound:
                return self._apply_fault(kind, outcome)
        return outcome

    def _apply_fault(self, fault: UserFault, outcome: Outcome) -> Outcome:
        """Return the response that ``fault`` makes of ``outcome``, the normal response."""
        if isinstance(fault, RawResponse):
            return _raw_outcome(fault)
        if fault == "500":
            return self._internal_error
        if fault == "503_html":
            return self._unavailable
        if fault == "drop":
            return dataclasses.replace(outcome, drop=True)
        if fault == "slow":
            return dataclasses.replace(outcome, delay_seconds=self.config.slow_seconds)
        if fault == "malformed_json":
            return Outcome(200, truncated_json(outcome.body))
        raise ValueError(f"unknown fault {fault!r}")

    def _counted(self, outcome: Outcome) -> Outcome:
        if outcome.drop:
            self.stats.requests_dropped += 1
        else:
            self.stats.per_status[outcome.status] += 1
        return outcome


STATE_KEY = web.AppKey("authy_emulator_state", EmulatorState)


def create_app(config: EmulatorConfig) -> web.Application:
    """Build the emulator application. Raises PopulationFileError for a bad population file."""
    population_file = PopulationFile()
    if config.population_file is not None:
        population_file = load_population_file(config.population_file)
        logger.info(
            "Loaded %d population file entries and faults for %d users from %s",
            len(population_file.entries),
            len(population_file.faults),
            config.population_file,
        )
    population = Population(
        config.seed,
        config.population_size,
        config.export_disabled_share,
        population_file.entries,
        population_file.faults,
    )
    # The number templates are prepared here. Preparing them on the first request for a
    # generated user made that request about 0.3 s slower (measured on a 2-core machine).
    number_templates()

    app = web.Application()
    app[STATE_KEY] = EmulatorState(config, population)
    app.router.add_get(PHONE_NUMBER_PATH, handle_phone_number)
    app.router.add_get(STATS_PATH, handle_stats)
    app.router.add_post(RESET_STATS_PATH, handle_reset_stats)
    return app


async def handle_phone_number(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    outcome = state.decide(request.headers.get(API_KEY_HEADER), request.match_info["authy_id"])
    delay = outcome.delay_seconds if outcome.delay_seconds is not None else state.latency.sample()
    if delay > 0:
        await asyncio.sleep(delay)
    if outcome.drop:
        _drop_connection(request)
    return web.Response(
        status=outcome.status,
        body=outcome.body,
        content_type=outcome.content_type,
        headers=outcome.headers,
    )


async def handle_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE_KEY].stats_payload())


async def handle_reset_stats(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    state.stats.reset()
    logger.info("Emulator stats reset")
    return web.json_response(state.stats_payload())


def parse_authy_id(text: str) -> int | None:
    """Return the id for a string of ASCII digits from 1 to MAX_AUTHY_ID, else None."""
    if not text.isascii() or not text.isdigit() or len(text.lstrip("0")) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_AUTHY_ID else None


def _drop_connection(request: web.Request) -> None:
    """Close the connection before any byte of a response is sent."""
    transport = request.transport
    if transport is not None:
        transport.close()
    # Raising CancelledError ends the handler without writing, as a client disconnect does.
    raise asyncio.CancelledError


def _user_body(user: PhoneUser) -> bytes:
    return json.dumps(user.export_fields()).encode()


def _raw_outcome(raw: RawResponse) -> Outcome:
    return Outcome(raw.status, raw.body.encode(), content_type=None, headers=raw.headers)


def _cumulative_fault_bounds(config: EmulatorConfig) -> tuple[float, ...]:
    # The same order as FAULT_KINDS.
    shares = (
        config.fault_500,
        config.fault_503_html,
        config.fault_drop,
        config.fault_slow,
        config.fault_malformed_json,
    )
    bounds = []
    total = 0.0
    for share in shares:
        total += share
        bounds.append(total)
    return tuple(bounds)
