"""Export statuses of one user's phone number, and the sets that group them."""

import enum


class ExportStatus(enum.StrEnum):
    """Outcome of exporting one user's phone number."""

    ok = "ok"
    user_not_found = "user_not_found"  # error 60026
    export_disabled = "export_disabled"  # error 60154
    quota_exhausted = "quota_exhausted"  # our ledger shows the user's monthly quota spent
    rate_limited = "rate_limited"  # still 429 or error 60003 after retries
    server_error = "server_error"  # 5xx after retries
    timeout = "timeout"  # timed out on every attempt
    connection_error = "connection_error"  # connection failed on every attempt
    invalid_response = "invalid_response"  # a response that cannot be read
    api_error = "api_error"  # any other 4xx error code, such as 60002 or 60004
    no_answer = "no_answer"  # request sent, but the process died before the response
    unauthorized = "unauthorized"  # error 60001: the caller must abort the run
    not_requested = "not_requested"  # no request was sent for the user this month


# Statuses whose response will not change when the same user is requested again this month.
FINAL_STATUSES: frozenset[ExportStatus] = frozenset(
    {
        ExportStatus.ok,
        ExportStatus.user_not_found,
        ExportStatus.export_disabled,
        ExportStatus.api_error,
    }
)
# Statuses worth another request in a later run. quota_exhausted only pays off after
# the UTC calendar month turns, and unauthorized only after the API key is fixed.
# Member names equal their values, so plain strings such as "ok" match these sets.
RETRYABLE_STATUSES: frozenset[ExportStatus] = frozenset(ExportStatus) - FINAL_STATUSES

ERROR_CODE_STATUSES: dict[str, ExportStatus] = {
    "60026": ExportStatus.user_not_found,
    "60154": ExportStatus.export_disabled,
    "60003": ExportStatus.rate_limited,
    "60001": ExportStatus.unauthorized,
}
