"""Selection of the users that can be moved to Twilio Verify, and why the others cannot.

A user is verify-ready when every rule below holds. Each user left out is counted once, under
the first rule it fails, in this order:

1. status is ok; otherwise the reason is the status itself, such as export_disabled;
2. e164_malformed: e164 does not match ``^\\+[1-9][0-9]{1,14}$``;
3. e164_inconsistent: e164 differs from country_code plus phone_number in E.164;
4. number_invalid: libphonenumber does not find e164 valid for its region;
5. has_extension: phone_number carries an extension, which E.164 and Verify cannot hold.

A null in a validation column counts as a failed rule.
"""

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from authy_assets.phones import ExportStatus
from authy_assets.schema import VERIFY_READY_SCHEMA

# libphonenumber cannot tell US and CA mobiles from landlines and reports both as
# FIXED_LINE_OR_MOBILE, so that type counts as SMS-capable too.
SMS_CAPABLE_TYPES: frozenset[str] = frozenset({"MOBILE", "FIXED_LINE_OR_MOBILE"})

# Rules after the status check, in the order they are applied: (reason, column, value that
# passes). The status reasons come first and are the status values themselves.
_RULES: tuple[tuple[str, str, bool], ...] = (
    ("e164_malformed", "e164_well_formed", True),
    ("e164_inconsistent", "e164_consistent", True),
    ("number_invalid", "is_valid", True),
    ("has_extension", "has_extension", False),
)
RULE_REASONS: tuple[str, ...] = tuple(reason for reason, _, _ in _RULES)


@dataclass(frozen=True)
class VerifyReadySelection:
    """Verify-ready rows (VERIFY_READY_SCHEMA) and the count of users left out per reason.

    ``left_out_by_reason`` lists non-zero counts only: the statuses in ExportStatus order
    first, then RULE_REASONS in order.
    """

    table: pa.Table
    left_out_by_reason: dict[str, int]

    @property
    def ready_rows(self) -> int:
        return self.table.num_rows

    @property
    def left_out_rows(self) -> int:
        return sum(self.left_out_by_reason.values())


def is_sms_capable(number_type: str | None) -> bool:
    """Return whether a libphonenumber type name is MOBILE or FIXED_LINE_OR_MOBILE."""
    return number_type in SMS_CAPABLE_TYPES


def _count_statuses(statuses: pa.ChunkedArray) -> dict[str, int]:
    counts = {
        entry["values"].as_py(): entry["counts"].as_py()
        for entry in pc.value_counts(statuses)
    }
    ordered = {
        status.value: counts.pop(status.value)
        for status in ExportStatus
        if status is not ExportStatus.ok and status.value in counts
    }
    counts.pop(ExportStatus.ok.value, None)
    # A status outside ExportStatus cannot pass the schema check, but is still counted.
    ordered.update(sorted(counts.items()))
    return ordered


def _check_not_null(table: pa.Table) -> None:
    for field in table.schema:
        if not field.nullable and table.column(field.name).null_count > 0:
            raise ValueError(
                f"verify-ready column {field.name} contains null, which the rules exclude."
                " Check the validation columns of the export rows."
            )


def select_verify_ready(export: pa.Table) -> VerifyReadySelection:
    """Apply the rules of this module to export rows with the phone-number table's columns.

    Returns the verify-ready rows in the order of ``export`` with VERIFY_READY_SCHEMA, and
    the left-out counts. Every row of ``export`` is either ready or counted once.
    """
    left_out = _count_statuses(export.column("status"))
    remaining = pc.equal(export.column("status"), ExportStatus.ok.value)

    for reason, column, passing_value in _RULES:
        passes = pc.equal(export.column(column), passing_value).fill_null(False)
        fails = pc.and_(remaining, pc.invert(passes))
        count = pc.sum(fails).as_py() or 0
        if count:
            left_out[reason] = count
        remaining = pc.and_(remaining, passes)

    ready = export.filter(remaining)
    sms_capable = pc.is_in(
        ready.column("number_type"), pa.array(sorted(SMS_CAPABLE_TYPES), pa.string())
    ).fill_null(False)
    table = pa.Table.from_arrays(
        [
            ready.column("authy_id"),
            ready.column("e164"),
            ready.column("country_code"),
            ready.column("region_code"),
            ready.column("number_type"),
            sms_capable,
        ],
        schema=VERIFY_READY_SCHEMA,
    )
    _check_not_null(table)
    return VerifyReadySelection(table=table, left_out_by_reason=left_out)
