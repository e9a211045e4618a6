"""Classification of Authy phone-number export responses and validation of their numbers.

classify_response turns one HTTP response into an ExportStatus, validate_phone checks the
number against Twilio Verify's strict E.164 and libphonenumber, and build_phone_row
combines both into one row of the phone-number table.
"""

from authy_assets.phones.responses import (
    ANSWER_FIELDS,
    REQUIRED_FIELDS,
    Classification,
    classify_response,
)
from authy_assets.phones.rows import PHONE_ROW_COLUMNS, build_phone_row
from authy_assets.phones.statuses import (
    ERROR_CODE_STATUSES,
    FINAL_STATUSES,
    RETRYABLE_STATUSES,
    ExportStatus,
)
from authy_assets.phones.timestamps import ParsedTimestamp, parse_updated_at
from authy_assets.phones.validation import E164_PATTERN, Validation, validate_phone

__all__ = [
    "ANSWER_FIELDS",
    "E164_PATTERN",
    "ERROR_CODE_STATUSES",
    "FINAL_STATUSES",
    "PHONE_ROW_COLUMNS",
    "REQUIRED_FIELDS",
    "RETRYABLE_STATUSES",
    "Classification",
    "ExportStatus",
    "ParsedTimestamp",
    "Validation",
    "build_phone_row",
    "classify_response",
    "parse_updated_at",
    "validate_phone",
]
