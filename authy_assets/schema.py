"""Arrow schemas of the raw-response and phone-number tables, and a strict table builder.

Each field carries its description in the field metadata under ``description``, and
string columns with a closed set of values list them under ``allowed_values``.
"""

import enum
from datetime import datetime
from typing import Any

import pyarrow as pa

from authy_assets.phones import ExportStatus

TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")

# Version of the export's columns, documented in authy_assets/docs/export-schema.md. Bump it
# whenever a column of PHONE_NUMBERS_SCHEMA or VERIFY_READY_SCHEMA is added, removed, renamed,
# reordered, or changes its type or nullability.
EXPORT_SCHEMA_VERSION = "1"


class RequestOutcome(enum.StrEnum):
    """Outcome of one HTTP request to the export endpoint."""

    response = "response"  # an HTTP response arrived, whatever its status
    timeout = "timeout"
    connection_error = "connection_error"
    no_answer = "no_answer"  # sent, but the process died before the response arrived


def _field(
    name: str,
    type_: pa.DataType,
    description: str,
    *,
    nullable: bool = True,
    allowed_values: type[enum.StrEnum] | None = None,
) -> pa.Field:
    metadata = {"description": description}
    if allowed_values is not None:
        metadata["allowed_values"] = ",".join(member.value for member in allowed_values)
    return pa.field(name, type_, nullable=nullable, metadata=metadata)


RAW_RESPONSES_SCHEMA = pa.schema(
    [
        _field("authy_id", pa.int64(), "Authy user id of the request.", nullable=False),
        _field(
            "batch_key", pa.string(), "Batch that sent the request.", nullable=False
        ),
        _field(
            "requested_at",
            TIMESTAMP_TYPE,
            "Time the request was sent, in UTC.",
            nullable=False,
        ),
        _field(
            "received_at",
            TIMESTAMP_TYPE,
            "Time the response arrived, in UTC, or null without a response.",
        ),
        _field(
            "attempt",
            pa.int16(),
            "Number of this request among the user's requests this month (UTC), starting at 1.",
            nullable=False,
        ),
        _field("http_status", pa.int16(), "HTTP status, or null without a response."),
        _field("error_code", pa.string(), "Authy error_code from the body, if any."),
        _field(
            "status",
            pa.string(),
            "Status that classify_response gave this request, or no_answer.",
            nullable=False,
            allowed_values=ExportStatus,
        ),
        _field(
            "outcome",
            pa.string(),
            "Request outcome: response, timeout, connection_error or no_answer.",
            nullable=False,
            allowed_values=RequestOutcome,
        ),
        _field("content_type", pa.string(), "Content-Type header of the response."),
        _field(
            "body",
            pa.string(),
            "Response body as received, which contains unmasked phone numbers.",
        ),
        _field(
            "duration_ms",
            pa.float64(),
            "Milliseconds from sending the request to the end of the response.",
        ),
        _field(
            "counted",
            pa.bool_(),
            "Whether the request counts against the user's monthly quota.",
            nullable=False,
        ),
        _field("run_id", pa.string(), "Dagster run that sent the request, if any."),
    ]
)

PHONE_NUMBERS_SCHEMA = pa.schema(
    [
        _field("authy_id", pa.int64(), "Authy user id.", nullable=False),
        _field(
            "batch_key", pa.string(), "Batch that fetched this row.", nullable=False
        ),
        _field(
            "status",
            pa.string(),
            "Export outcome for the user, such as ok or user_not_found.",
            nullable=False,
            allowed_values=ExportStatus,
        ),
        _field("error_code", pa.string(), "Authy error_code of the deciding response."),
        _field("http_status", pa.int16(), "HTTP status of the deciding response."),
        _field("phone_number", pa.string(), "Number without country code, as sent."),
        _field("country_code", pa.string(), "Calling code as sent, such as 1."),
        _field("e164", pa.string(), "Full number as sent, which is what Verify takes."),
        _field("updated_at", TIMESTAMP_TYPE, "Last update of the Authy user, in UTC."),
        _field(
            "fetched_at",
            TIMESTAMP_TYPE,
            "Time the final response was recorded, in UTC, or null if never requested.",
        ),
        _field(
            "e164_well_formed",
            pa.bool_(),
            "Whether e164 matches Verify's pattern ^\\+[1-9]\\d{1,14}$.",
        ),
        _field(
            "e164_consistent",
            pa.bool_(),
            "Whether e164 equals country_code plus phone_number in E.164.",
        ),
        _field("region_code", pa.string(), "CLDR region of e164, such as US or CA."),
        _field("number_type", pa.string(), "libphonenumber type of e164, such as MOBILE."),
        _field("is_possible", pa.bool_(), "Whether e164 has a possible length."),
        _field("is_valid", pa.bool_(), "Whether e164 is a valid number in its region."),
        _field(
            "has_extension", pa.bool_(), "Whether phone_number carries an extension."
        ),
        _field("validation_problem", pa.string(), "Why a validation check failed."),
        _field(
            "problem",
            pa.string(),
            "Why the row has no number or an incomplete one: the API error, or what could not"
            " be read.",
        ),
    ]
)

VERIFY_READY_SCHEMA = pa.schema(
    [
        _field("authy_id", pa.int64(), "Authy user id.", nullable=False),
        _field(
            "e164", pa.string(), "Full number in E.164, the value to give Twilio Verify.",
            nullable=False,
        ),
        _field("country_code", pa.string(), "Calling code as Authy sent it.", nullable=False),
        _field(
            "region_code",
            pa.string(),
            "CLDR region of e164 by libphonenumber, or 001 for a non-geographic number.",
            nullable=False,
        ),
        _field(
            "number_type", pa.string(), "libphonenumber type of e164, such as MOBILE.",
            nullable=False,
        ),
        _field(
            "sms_capable",
            pa.bool_(),
            "Whether number_type is MOBILE or FIXED_LINE_OR_MOBILE.",
            nullable=False,
        ),
    ]
)


def _check_row_keys(rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    expected = set(schema.names)
    for index, row in enumerate(rows):
        missing = expected - row.keys()
        unknown = row.keys() - expected
        if missing or unknown:
            raise ValueError(
                f"row {index} does not match the schema: "
                f"missing columns {sorted(missing)}, unknown columns {sorted(unknown)}"
            )


def _check_timestamps(rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    # pyarrow reads a naive datetime as UTC without warning, so reject it here.
    names = [field.name for field in schema if pa.types.is_timestamp(field.type)]
    for index, row in enumerate(rows):
        for name in names:
            value = row[name]
            if isinstance(value, datetime) and value.tzinfo is None:
                raise ValueError(
                    f"row {index} column {name} is a naive datetime. Pass a UTC datetime."
                )


def _check_columns(table: pa.Table, schema: pa.Schema) -> None:
    for field in schema:
        column = table.column(field.name)
        if not field.nullable and column.null_count > 0:
            raise ValueError(f"column {field.name} must not contain null")
        allowed = (field.metadata or {}).get(b"allowed_values")
        if allowed is None:
            continue
        allowed_values = set(allowed.decode().split(","))
        unknown = set(column.drop_null().unique().to_pylist()) - allowed_values
        if unknown:
            raise ValueError(
                f"column {field.name} contains unknown values {sorted(unknown)}. "
                f"Allowed values are {sorted(allowed_values)}."
            )


def table_from_rows(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Build a table whose schema is exactly ``schema``, also for zero or all-null rows.

    Raises ValueError when a row's keys differ from the schema's columns, a timestamp
    is naive, a non-nullable column contains null or a column with allowed values
    contains another value. pyarrow raises ArrowTypeError or ArrowInvalid for a
    value of the wrong type, such as an int in a string column.
    """
    _check_row_keys(rows, schema)
    _check_timestamps(rows, schema)
    table = pa.Table.from_pylist(rows, schema=schema)
    _check_columns(table, schema)
    return table


def column_descriptions(schema: pa.Schema) -> list[tuple[str, str, str]]:
    """Return (name, Arrow type, description) for every column of ``schema``."""
    columns = []
    for field in schema:
        description = (field.metadata or {}).get(b"description", b"").decode()
        columns.append((field.name, str(field.type), description))
    return columns


column_schema_metadata = column_descriptions
