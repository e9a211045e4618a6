"""One row of the phone-number table, built from the final response for one user."""

from datetime import UTC, datetime
from typing import Any

from authy_assets.phones.responses import classify_response
from authy_assets.phones.statuses import ExportStatus
from authy_assets.phones.timestamps import parse_updated_at
from authy_assets.phones.validation import validate_phone


PHONE_ROW_COLUMNS = (
    "authy_id", "batch_key", "status", "error_code", "http_status",
    "phone_number", "country_code", "e164", "updated_at", "fetched_at",
    "e164_well_formed", "e164_consistent", "region_code", "number_type",
    "is_possible", "is_valid", "has_extension", "validation_problem", "problem",
)  # fmt: skip


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
        # classify_response already notes a missing updated_at. An empty string is not
        # missing, so its parse problem is kept.
        problem=_join_problems(
            problem, updated_at.problem if fields.get("updated_at") is not None else None
        ),
    )
    return row
