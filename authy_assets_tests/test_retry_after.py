"""A 429 response with any form of Retry-After is retried, and the run completes.

The header values stay small (at most 2 s) so the tests stay fast.
"""

from __future__ import annotations

import json
import time

import pytest

from authy_assets.client.retry import http_date

TOO_MANY_REQUESTS_BODY = json.dumps(
    {
        "message": "Too many requests",
        "success": False,
        "errors": {"message": "Too many requests"},
        "error_code": "60003",
    }
)
PAST_DATE = "Wed, 21 Oct 2015 07:28:00 GMT"


def rate_limited_once(retry_after: str | None) -> dict[str, object]:
    """Return a raw 429 response with ``retry_after`` as its Retry-After (None: no header)."""
    headers = {"Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return {"status": 429, "headers": headers, "body": TOO_MANY_REQUESTS_BODY}


def test_every_retry_after_form_retried(start_authy_emulator, make_project, tmp_path):
    forms = {
        2: "1",
        3: http_date(time.time() + 2),
        4: "0",
        5: PAST_DATE,
        6: "soon, maybe",
        7: None,
    }
    population = tmp_path / "population.jsonl"
    population.write_text(
        "".join(
            json.dumps({"authy_id": authy_id, "faults": [rate_limited_once(value)]}) + "\n"
            for authy_id, value in forms.items()
        ),
        encoding="utf-8",
    )
    emulator = start_authy_emulator(
        population_size=10, export_disabled_share=0.0, population_file=population
    )
    project = make_project(emulator.url, [1, *forms])
    project.materialize_user_ids()
    (batch_key,) = project.batch_keys()

    result = project.materialize_batch(batch_key)

    assert result.success
    stats = emulator.stats()
    assert stats["requests_per_status"] == {"200": 7, "429": 6}
    phones = {row["authy_id"]: row for row in project.phones(batch_key).to_pylist()}
    raw = project.raw(batch_key).to_pylist()
    for authy_id, value in forms.items():
        assert phones[authy_id]["status"] == "ok", value
        assert stats["requests_per_user"][str(authy_id)] == 2, value
        requests = sorted(
            (row for row in raw if row["authy_id"] == authy_id), key=lambda row: row["attempt"]
        )
        assert [row["attempt"] for row in requests] == [1, 2], value
        assert [row["status"] for row in requests] == ["rate_limited", "ok"], value
        assert (requests[0]["http_status"], requests[0]["error_code"]) == (429, "60003"), value


@pytest.mark.parametrize(
    ("retry_after", "expected_status", "expected_requests"),
    [("2", "ok", 2), (None, "rate_limited", 2)],
)
def test_retry_after_waits_out_rate_window(
    start_authy_emulator, make_project, retry_after, expected_status, expected_requests
):
    """The emulator accepts one request per 1.5 s window and rejects the rest with 429.

    The second user is rejected because the first user's request is still in the window.
    Waiting the 2 s that Retry-After requests empties the window, but the client's own
    backoff (at most 0.2 s in the test project) does not, so the second user ends ok only
    when the client honours the header.
    """
    emulator = start_authy_emulator(
        population_size=10,
        export_disabled_share=0.0,
        rate_limit=1,
        rate_window_seconds=1.5,
        retry_after=retry_after,
    )
    project = make_project(emulator.url, [1, 2])
    project.materialize_user_ids()
    (batch_key,) = project.batch_keys()

    result = project.materialize_batch(batch_key)

    assert result.success
    phones = {row["authy_id"]: row for row in project.phones(batch_key).to_pylist()}
    assert phones[1]["status"] == "ok"
    assert phones[2]["status"] == expected_status
    stats = emulator.stats()
    assert stats["requests_per_user"] == {"1": 1, "2": expected_requests}
