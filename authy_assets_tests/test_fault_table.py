"""Faults of the export endpoint, and which test runs each through the emulator over a socket.

Each test below materializes a batch through Dagster against the emulator on 127.0.0.1. The
batch tests check that the batch completes, that every user has one row with one status, and
that no user is sent more requests than max_attempts_per_run (2) or the monthly quota (3).

- 500: test_error_kinds (ALWAYS_500, FAILS_ONCE), and test_monthly_quota (500 on every
  request, over three runs and over two processes at once).
- 503 with an HTML body: test_error_kinds (ALWAYS_503_HTML).
- 200 with an HTML body: test_error_kinds (HTML_200).
- Malformed JSON: test_error_kinds (MALFORMED_JSON).
- Dropped connection: test_error_kinds (DROPPED).
- Response slower than the read timeout: test_error_kinds (SLOW).
- 429 on every request: test_error_kinds (ALWAYS_429).
- 429 with Retry-After in seconds, as an HTTP date, as 0, in the past, unparseable, and
  without it: test_retry_after.test_every_retry_after_form_retried (one 429 per user),
  test_retry_after.test_retry_after_waits_out_rate_window (the emulator's own rate limit),
  and test_429_storm_every_retry_after_form here (many users at once, some limited on
  every request).
- An app-limit 429 and a user-quota 429 with identical bodies and headers:
  test_app_and_quota_429_identical and test_app_and_quota_429_in_one_batch here.
- Wrong API key: test_wrong_api_key.test_wrong_key_fails_run_without_quota. The run fails
  after one request with an error that names AUTHY_API_KEY, and no user's quota is spent.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import httpx

from authy_assets.client.retry import http_date
from authy_assets_tests.conftest import API_KEY

MAX_ATTEMPTS_PER_RUN = 2
MONTHLY_QUOTA = 3
TOO_MANY_REQUESTS_BODY = json.dumps(
    {
        "message": "Too many requests",
        "success": False,
        "errors": {"message": "Too many requests"},
        "error_code": "60003",
    }
)
PAST_DATE = "Wed, 21 Oct 2015 07:28:00 GMT"
# Headers that differ between any two responses, whatever caused them.
PER_RESPONSE_HEADERS = frozenset({"date"})


def get_phone(client: httpx.Client, authy_id: int) -> httpx.Response:
    return client.get(
        f"/protected/json/users/{authy_id}/phone_number",
        headers={"X-Authy-API-Key": API_KEY},
    )


def comparable_headers(response: httpx.Response) -> list[tuple[str, str]]:
    return sorted(
        (name.lower(), value)
        for name, value in response.headers.items()
        if name.lower() not in PER_RESPONSE_HEADERS
    )


def assert_one_row_per_user(project, batch_key: str, authy_ids: list[int]) -> dict[int, dict]:
    rows = project.phones(batch_key).to_pylist()
    per_user = Counter(row["authy_id"] for row in rows)
    assert sorted(per_user) == sorted(authy_ids)
    assert set(per_user.values()) == {1}
    return {row["authy_id"]: row for row in rows}


def test_app_and_quota_429_identical(start_authy_emulator):
    """The emulator sends one response for the app's rate limit and for a user's spent quota."""
    emulator = start_authy_emulator(
        population_size=10,
        export_disabled_share=0.0,
        rate_limit=4,
        rate_window_seconds=60.0,
        retry_after="30",
    )
    quota_user, other_user = 2, 3

    with httpx.Client(base_url=emulator.url, timeout=5.0) as client:
        spent = [get_phone(client, quota_user) for _ in range(MONTHLY_QUOTA)]
        # The fourth request fills the rate window and is rejected by the user's quota.
        quota_limited = get_phone(client, quota_user)
        app_limited = get_phone(client, other_user)

    assert [response.status_code for response in spent] == [200] * MONTHLY_QUOTA
    assert quota_limited.status_code == 429
    assert app_limited.status_code == 429
    assert quota_limited.content == app_limited.content
    assert json.loads(quota_limited.content)["error_code"] == "60003"
    assert comparable_headers(quota_limited) == comparable_headers(app_limited)
    assert quota_limited.headers["Retry-After"] == "30"


def test_app_and_quota_429_in_one_batch(start_authy_emulator, make_project):
    """One user's quota is spent before the run, and the app's rate window is full.

    Both give the same 429. The client cannot tell them apart, so it treats both as a rate
    limit: it waits the Retry-After, and retries each user once. The app-limited users then
    get their number, and the quota user ends rate_limited after two requests of this run.
    """
    window_seconds = 3.0
    emulator = start_authy_emulator(
        population_size=30,
        export_disabled_share=0.0,
        rate_limit=6,
        rate_window_seconds=window_seconds,
        retry_after="3",
    )
    # The client requests users in id order, so the first request, which meets the full
    # window, goes to a user whose quota is not spent.
    quota_user = 9
    batch_users = [3, 4, 5, 6, quota_user]
    fillers = [20, 21, 22]
    # The client's own limit (5 per window) stays below the emulator's 6 once the window clears.
    project = make_project(
        emulator.url, batch_users, rate_limit=5, rate_window_seconds=window_seconds
    )
    project.materialize_user_ids()
    (batch_key,) = project.batch_keys()

    with httpx.Client(base_url=emulator.url, timeout=5.0) as client:
        spent = [get_phone(client, quota_user) for _ in range(MONTHLY_QUOTA)]
        filled = [get_phone(client, authy_id) for authy_id in fillers]
    assert [response.status_code for response in spent + filled] == [200] * 6

    # The run's first request arrives within the window of the six requests above.
    result = project.materialize_batch(batch_key)

    assert result.success
    rows = assert_one_row_per_user(project, batch_key, batch_users)
    assert rows[quota_user]["status"] == "rate_limited"
    assert rows[quota_user]["error_code"] == "60003"
    for authy_id in batch_users[:-1]:
        assert rows[authy_id]["status"] == "ok", authy_id

    raw = sorted(
        project.raw(batch_key).to_pylist(), key=lambda row: (row["authy_id"], row["attempt"])
    )
    quota_requests = [row for row in raw if row["authy_id"] == quota_user]
    assert [row["status"] for row in quota_requests] == ["rate_limited"] * MAX_ATTEMPTS_PER_RUN
    assert {row["http_status"] for row in quota_requests} == {429}
    app_limited = [
        row
        for row in raw
        if row["authy_id"] != quota_user and row["status"] == "rate_limited"
    ]
    assert app_limited, "no request of the run met the full rate window"
    assert {row["body"] for row in app_limited} == {row["body"] for row in quota_requests}

    sent = Counter(row["authy_id"] for row in raw)
    for authy_id in batch_users:
        assert sent[authy_id] <= MAX_ATTEMPTS_PER_RUN, authy_id
    stats = emulator.stats()
    # The run's requests plus the three sent directly before it.
    assert stats["requests_per_user"][str(quota_user)] == MONTHLY_QUOTA + MAX_ATTEMPTS_PER_RUN
    for authy_id in batch_users[:-1]:
        assert stats["requests_per_user"][str(authy_id)] == sent[authy_id], authy_id
        assert sent[authy_id] <= MONTHLY_QUOTA, authy_id


def rate_limited(retry_after: str | None) -> dict[str, object]:
    """Return a raw 429 response with ``retry_after`` as its Retry-After (None: no header)."""
    headers = {"Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return {"status": 429, "headers": headers, "body": TOO_MANY_REQUESTS_BODY}


def test_429_storm_every_retry_after_form(start_authy_emulator, make_project, tmp_path: Path):
    """Many users get 429s at once, with every form of Retry-After.

    For each form, two users get one 429 and then their number, and one user gets a 429 on
    every request of the run and ends rate_limited. The values stay at most 2 s so the test
    stays fast.
    """
    forms = {
        "seconds": "1",
        "http date": http_date(time.time() + 2),
        "zero": "0",
        "past date": PAST_DATE,
        "unparseable": "soon, maybe",
        "missing": None,
    }
    population: list[dict[str, object]] = []
    expected: dict[int, tuple[str, list[str]]] = {}
    authy_id = 2
    for form in forms.values():
        for _ in range(2):
            population.append({"authy_id": authy_id, "faults": [rate_limited(form)]})
            expected[authy_id] = ("ok", ["rate_limited", "ok"])
            authy_id += 1
        population.append({"authy_id": authy_id, "faults": [rate_limited(form)] * 3})
        expected[authy_id] = ("rate_limited", ["rate_limited"] * MAX_ATTEMPTS_PER_RUN)
        authy_id += 1
    path = tmp_path / "population.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in population), encoding="utf-8")
    emulator = start_authy_emulator(
        population_size=30, export_disabled_share=0.0, population_file=path
    )
    project = make_project(emulator.url, sorted(expected))
    project.materialize_user_ids()
    (batch_key,) = project.batch_keys()

    result = project.materialize_batch(batch_key)

    assert result.success
    rows = assert_one_row_per_user(project, batch_key, sorted(expected))
    raw = sorted(
        project.raw(batch_key).to_pylist(), key=lambda row: (row["authy_id"], row["attempt"])
    )
    stats = emulator.stats()
    for authy_id, (status, request_statuses) in expected.items():
        assert rows[authy_id]["status"] == status, authy_id
        requests = [row for row in raw if row["authy_id"] == authy_id]
        assert [row["status"] for row in requests] == request_statuses, authy_id
        assert stats["requests_per_user"][str(authy_id)] == len(request_statuses), authy_id
        assert len(request_statuses) <= MONTHLY_QUOTA, authy_id
