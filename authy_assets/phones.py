"""Classification of Authy phone-number export responses and validation of their numbers.

classify_response turns one HTTP response into an ExportStatus, validate_phone checks the
number against Twilio Verify's strict E.164 and libphonenumber, and build_phone_row
combines both into one row of the phone-number table.
"""

import enum
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from authy_assets.masking import mask_text


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
REQUIRED_FIELDS = ("phone_number", "country_code", "e164")
ANSWER_FIELDS = (*REQUIRED_FIELDS, "updated_at")
PHONE_ROW_COLUMNS = (
    "authy_id", "batch_key", "status", "error_code", "http_status",
    "phone_number", "country_code", "e164", "updated_at", "fetched_at",
    "e164_well_formed", "e164_consistent", "region_code", "number_type",
    "is_possible", "is_valid", "has_extension", "validation_problem", "problem",
)  # fmt: skip

# Twilio Verify accepts only this form. [0-9] and fullmatch keep out Unicode digits
# and a trailing newline, both of which \d and $ would let through.
E164_PATTERN = re.compile(r"\+[1-9][0-9]{1,14}")
_MAX_PROBLEM_LENGTH = 300


@dataclass(frozen=True)
class Classification:
    """Result of classifying one HTTP response. ``fields`` is set only when ``status`` is ok."""

    status: ExportStatus
    error_code: str | None
    fields: dict[str, str | None] | None
    problem: str | None


@dataclass(frozen=True)
class Validation:
    """Checks of one exported number.

    region_code, number_type, is_possible and is_valid describe ``e164``. They are
    None or False whenever ``e164`` is not well formed, because Verify would reject it.
    """

    e164_well_formed: bool
    e164_consistent: bool
    region_code: str | None
    number_type: str | None
    is_possible: bool
    is_valid: bool
    has_extension: bool
    validation_problem: str | None


@dataclass(frozen=True)
class ParsedTimestamp:
    """UTC-aware timestamp read from text, with a note on anything doubtful."""

    value: datetime | None
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


def _normalize_calling_code(country_code: str) -> str | None:
    digits = country_code.strip().removeprefix("+")
    if re.fullmatch(r"[1-9][0-9]{0,2}", digits):
        return digits
    return None


def _number_from_parts(
    phone_number: str, calling_code: str
) -> phonenumbers.PhoneNumber | None:
    """Parse phone_number under calling_code, dropping a trunk prefix such as 0 or 8."""
    text = phone_number.strip()
    if not text.startswith("+"):
        text = f"+{calling_code} {text}"
    try:
        number = phonenumbers.parse(text, None)
    except NumberParseException:
        return None
    if str(number.country_code) != calling_code:
        return None
    return number


def _number_type_name(number: phonenumbers.PhoneNumber) -> str:
    number_type = phonenumbers.number_type(number)
    return PhoneNumberType.to_string(number_type) or str(number_type)


def validate_phone(
    phone_number: str | None, country_code: str | None, e164: str | None
) -> Validation:
    """Check an exported number for Twilio Verify and libphonenumber.

    e164_consistent holds when ``e164`` equals the E.164 form of phone_number parsed
    under country_code, with a trunk prefix such as the Russian 8 dropped and Italy's
    leading 0 kept. The region comes from the whole number, so +1 416 gives CA and
    +7 701 gives KZ. Never raises. A failing number is flagged, never dropped.
    """
    problems: list[str] = []
    well_formed = isinstance(e164, str) and E164_PATTERN.fullmatch(e164) is not None
    if e164 is None:
        problems.append("e164 is missing")
    elif not well_formed:
        problems.append("e164 is not well formed")

    has_extension = False
    consistent = False
    calling_code = _normalize_calling_code(country_code or "")
    if phone_number is None or country_code is None:
        problems.append("phone_number or country_code is missing")
    elif calling_code is None:
        problems.append("country_code is not a calling code")
    else:
        from_parts = _number_from_parts(phone_number, calling_code)
        if from_parts is None:
            problems.append("phone_number cannot be parsed with country_code")
        else:
            has_extension = bool(from_parts.extension)
            expected = phonenumbers.format_number(from_parts, PhoneNumberFormat.E164)
            consistent = e164 == expected
            if not consistent:
                problems.append("e164 disagrees with country_code and phone_number")
            if has_extension:
                problems.append("phone_number has an extension, which E.164 cannot hold")

    region_code = None
    number_type = None
    is_possible = False
    is_valid = False
    if well_formed and e164 is not None:
        try:
            number = phonenumbers.parse(e164, None)
        except NumberParseException:
            problems.append("e164 cannot be parsed")
        else:
            region_code = phonenumbers.region_code_for_number(number)
            number_type = _number_type_name(number)
            is_possible = phonenumbers.is_possible_number(number)
            is_valid = phonenumbers.is_valid_number(number)
            if not is_possible:
                problems.append("not a possible number")
            elif not is_valid:
                problems.append("not a valid number for any region")

    return Validation(
        e164_well_formed=well_formed,
        e164_consistent=consistent,
        region_code=region_code,
        number_type=number_type,
        is_possible=is_possible,
        is_valid=is_valid,
        has_extension=has_extension,
        validation_problem="; ".join(problems) or None,
    )


def _timestamp_from_epoch(text: str) -> ParsedTimestamp:
    try:
        value = datetime.fromtimestamp(float(text), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return ParsedTimestamp(None, "updated_at epoch seconds are out of range")
    return ParsedTimestamp(value, None)


def parse_updated_at(text: str | None) -> ParsedTimestamp:
    """Parse updated_at into a UTC-aware datetime.

    Accepts ISO-8601 with "Z" or an offset, with or without fractional seconds, a
    trailing " UTC", a date alone (midnight), and epoch seconds written as digits.
    A value without a time zone is read as UTC and noted. Unparseable text gives
    value None and a problem note. Never raises.
    """
    if text is None:
        return ParsedTimestamp(None, "updated_at is missing")

    cleaned = text.strip()
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", cleaned):
        # NOTE: an ISO basic date such as 20211209 is read as epoch seconds here.
        return _timestamp_from_epoch(cleaned)

    if cleaned.endswith(" UTC"):
        cleaned = cleaned.removesuffix(" UTC") + "+00:00"
    if cleaned.endswith("z"):
        cleaned = cleaned[:-1] + "Z"
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        return ParsedTimestamp(None, "updated_at is not an ISO-8601 timestamp")

    if value.tzinfo is None:
        return ParsedTimestamp(
            value.replace(tzinfo=UTC), "updated_at has no time zone and was read as UTC"
        )
    try:
        return ParsedTimestamp(value.astimezone(UTC), None)
    except OverflowError:
        return ParsedTimestamp(None, "updated_at is out of range in UTC")


def _join_problems(*problems: str | None) -> str | None:
    return "; ".join(problem for problem in problems if problem) or None


def build_phone_row(
    authy_id: int,
    status: ExportStatus | str,
    error_code: str | None,
    http_status: int | None,
    body: str | None,
    fetched_at: datetime | None,
    *,
    batch_key: str | None = None,
) -> dict[str, Any]:
    """Build one phone-number table row, with keys PHONE_ROW_COLUMNS, from a final response.

    ``status`` comes from the caller's retry logic. When it is ok but ``body`` does
    not classify as ok, the row takes the body's status, usually invalid_response,
    because an ok row must carry a number. Phone and validation columns are None for
    every status but ok. ``fetched_at`` is None only for a user never requested.
    Raises ValueError for a naive ``fetched_at`` or an unknown status.
    """
    if fetched_at is not None and fetched_at.tzinfo is None:
        raise ValueError(
            "fetched_at is a naive datetime. Pass a timezone-aware datetime in UTC."
        )
    row_status = ExportStatus(status)

    classification = None
    if body is not None and http_status is not None:
        classification = classify_response(http_status, body, None)

    problem = classification.problem if classification else None
    if error_code is None and classification is not None:
        error_code = classification.error_code
    if row_status is ExportStatus.ok:
        if classification is None:
            row_status = ExportStatus.invalid_response
            problem = "status ok without an HTTP status and body"
        elif classification.status is not ExportStatus.ok:
            row_status = classification.status

    row: dict[str, Any] = dict.fromkeys(PHONE_ROW_COLUMNS)
    row.update(
        authy_id=authy_id,
        batch_key=batch_key,
        status=row_status.value,
        error_code=error_code,
        http_status=http_status,
        fetched_at=fetched_at.astimezone(UTC) if fetched_at is not None else None,
        problem=problem,
    )
    if classification is None or row_status is not ExportStatus.ok:
        return row

    fields = classification.fields or {}
    updated_at = parse_updated_at(fields.get("updated_at"))
    validation = validate_phone(
        fields.get("phone_number"), fields.get("country_code"), fields.get("e164")
    )
    row.update(
        phone_number=fields.get("phone_number"),
        country_code=fields.get("country_code"),
        e164=fields.get("e164"),
        updated_at=updated_at.value,
        e164_well_formed=validation.e164_well_formed,
        e164_consistent=validation.e164_consistent,
        region_code=validation.region_code,
        number_type=validation.number_type,
        is_possible=validation.is_possible,
        is_valid=validation.is_valid,
        has_extension=validation.has_extension,
        validation_problem=validation.validation_problem,
        # classify_response already notes a missing updated_at.
        problem=_join_problems(
            problem, updated_at.problem if fields.get("updated_at") else None
        ),
    )
    return row
