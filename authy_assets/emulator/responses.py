"""Response bodies of the emulator: Authy error bodies and fault bodies.

The error body shape, the string ``error_code`` and the messages of 60001 (401) and 60026
(404) are those in the test fixtures of twilio/authy-ruby (spec/authy/api_spec.rb). The
other messages are written for the emulator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

JSON_CONTENT_TYPE = "application/json"
HTML_CONTENT_TYPE = "text/html"

INTERNAL_ERROR = ("60000", "An error occurred")
INVALID_API_KEY = ("60001", "Invalid API key")
TOO_MANY_REQUESTS = ("60003", "Too many requests")
INVALID_PARAMETER = ("60004", "Invalid parameter: authy_id must be a positive integer")
USER_NOT_FOUND = ("60026", "User not found.")
EXPORT_DISABLED = ("60154", "Phone number export is disabled for this user.")

SERVICE_UNAVAILABLE_HTML = (
    b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"
    b"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Decided response to one request, before the latency delay.

    ``delay_seconds`` replaces the sampled latency when set (the slow fault). With ``drop``
    the handler closes the connection instead of responding.
    """

    status: int
    body: bytes
    content_type: str | None = JSON_CONTENT_TYPE
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False
    delay_seconds: float | None = None


def error_body(error: tuple[str, str]) -> bytes:
    """Encode an Authy error body for ``(error_code, message)``."""
    code, message = error
    return json.dumps(
        {"message": message, "success": False, "errors": {"message": message}, "error_code": code}
    ).encode()


def error_outcome(
    status: int, error: tuple[str, str], headers: tuple[tuple[str, str], ...] = ()
) -> Outcome:
    return Outcome(status=status, body=error_body(error), headers=headers)


def truncated_json(body: bytes) -> bytes:
    """Cut a JSON body in half, as a connection that breaks mid-body would leave it."""
    return body[: max(1, len(body) // 2)]
