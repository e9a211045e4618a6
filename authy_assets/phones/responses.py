"""Classification of one HTTP response of the Authy phone-number export endpoint."""

import json
from dataclasses import dataclass
from typing import Any

from authy_assets.masking import mask_text
from authy_assets.phones.statuses import ERROR_CODE_STATUSES, ExportStatus


REQUIRED_FIELDS = ("phone_number", "country_code", "e164")
ANSWER_FIELDS = (*REQUIRED_FIELDS, "updated_at")
_MAX_PROBLEM_LENGTH = 300


@dataclass(frozen=True)
class Classification:
    """Result of classifying one HTTP response. ``fields`` is set only when ``status`` is ok."""

    status: ExportStatus
    error_code: str | None
    fields: dict[str, str | None] | None
    problem: str | None


class _JsonNumber(str):
    """A JSON number kept as the exact token that the body contains."""


def _load_json(body: str) -> tuple[bool, Any]:
    """Parse ``body`` as JSON and return (parsed, value), keeping numbers as their tokens."""
    try:
        value = json.loads(
            body.lstrip("\ufeff"),
            parse_int=_JsonNumber,
            parse_float=_JsonNumber,
            parse_constant=_JsonNumber,
        )
    except (ValueError, RecursionError):
        return False, None
    return True, value


def _shorten(text: str) -> str:
    masked = mask_text(text)
    if len(masked) <= _MAX_PROBLEM_LENGTH:
        return masked
    return masked[: _MAX_PROBLEM_LENGTH - 3] + "..."


def _describe_body(body: str, content_type: str | None) -> str:
    kind = "an empty body" if not body.strip() else "a body that is not JSON"
    if content_type:
        return f"{kind} (content type {_shorten(content_type)})"
    return kind


def _read_error_code(document: Any) -> str | None:
    if not isinstance(document, dict):
        return None
    code = document.get("error_code")
    if isinstance(code, str):
        return code.strip()
    return None


def _classify_success(body: str, content_type: str | None) -> Classification:
    parsed, document = _load_json(body)
    if not parsed:
        problem = f"2xx response with {_describe_body(body, content_type)}"
        return Classification(ExportStatus.invalid_response, None, None, problem)
    error_code = _read_error_code(document)
    if not isinstance(document, dict):
        problem = f"2xx body is a JSON {type(document).__name__}, not an object"
        return Classification(ExportStatus.invalid_response, error_code, None, problem)
    if document.get("success") is False:
        problem = "2xx body has success false"
        return Classification(ExportStatus.invalid_response, error_code, None, problem)

    fields: dict[str, str | None] = {}
    field_problems: dict[str, str] = {}
    notes: list[str] = []
    for name in ANSWER_FIELDS:
        value = document.get(name)
        if isinstance(value, _JsonNumber):
            notes.append(f"{name} was sent as a JSON number")
        if isinstance(value, str):
            fields[name] = str(value)
        elif value is None:
            fields[name] = None
            field_problems[name] = f"{name} is missing"
        else:
            fields[name] = None
            kind = type(value).__name__
            field_problems[name] = f"{name} is a JSON {kind}, not a string"

    required_problems = [
        field_problems[name] for name in REQUIRED_FIELDS if name in field_problems
    ]
    if required_problems:
        problem = "; ".join(required_problems + notes)
        return Classification(ExportStatus.invalid_response, error_code, None, problem)
    problem = "; ".join(list(field_problems.values()) + notes) or None
    return Classification(ExportStatus.ok, error_code, fields, problem)


def _classify_error(
    http_status: int, body: str, content_type: str | None
) -> Classification:
    parsed, document = _load_json(body)
    error_code = _read_error_code(document) if parsed else None
    message = document.get("message") if isinstance(document, dict) else None

    status = ERROR_CODE_STATUSES.get(error_code or "")
    if status is None:
        if http_status == 401:
            status = ExportStatus.unauthorized
        elif http_status == 429:
            status = ExportStatus.rate_limited
        elif 500 <= http_status <= 599:
            status = ExportStatus.server_error
        elif 400 <= http_status <= 499:
            status = ExportStatus.api_error
        else:
            status = ExportStatus.invalid_response

    if not parsed:
        problem = f"HTTP {http_status} with {_describe_body(body, content_type)}"
    elif error_code is None:
        problem = f"HTTP {http_status} without an error_code"
    else:
        problem = f"HTTP {http_status}, error {error_code}"
    if isinstance(message, str) and message.strip():
        problem += f": {message.strip()}"
    return Classification(status, error_code, None, _shorten(problem))


def classify_response(
    http_status: int, body: str, content_type: str | None
) -> Classification:
    """Classify one HTTP response of the export endpoint by its status and content.

    The body decides, never ``content_type`` alone, because Authy has sent JSON with an
    HTML content type. Error codes 60026, 60154, 60003 and 60001 map to their statuses
    on any non-2xx status. Otherwise 401 is unauthorized, 429 rate_limited, 5xx
    server_error, other 4xx api_error and any other status invalid_response. A 2xx
    response is ok only for a JSON object with string (or number) phone_number,
    country_code and e164. Never raises, whatever the input.
    """
    text = body if isinstance(body, str) else ""
    if isinstance(http_status, int) and 200 <= http_status <= 299:
        return _classify_success(text, content_type)
    if not isinstance(http_status, int):
        problem = "HTTP status is not an integer"
        return Classification(ExportStatus.invalid_response, None, None, problem)
    return _classify_error(http_status, text, content_type)
