"""Counts that summarize one export, and their Markdown form for the Dagster UI.

Only counts leave this module: no phone number, id or other per-user value.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import pyarrow as pa

from authy_assets.export.verify_ready import VerifyReadySelection
from authy_assets.phones import ExportStatus

# Labels of users without a number (status not ok) and of numbers without a region or a type,
# which is the case when e164 is not well formed or, for the region, not valid.
NO_NUMBER_LABEL = "(no number: status not ok)"
NONE_LABEL = "(none)"

VALID_LABEL = "valid"
POSSIBLE_NOT_VALID_LABEL = "possible but not valid"
NOT_POSSIBLE_LABEL = "not possible"

READY_LABEL = "verify-ready"
MISSING_BATCHES_LISTED = 20


@dataclass(frozen=True)
class ExportSummary:
    """User counts of one export by status, region, number type, validity and readiness.

    Every mapping but ``left_out_by_reason`` adds up to ``users``. ``verify_ready`` contains the
    ready count under "verify-ready" followed by the left-out count of each reason.
    """

    users: int
    by_status: dict[str, int]
    by_region: dict[str, int]
    by_number_type: dict[str, int]
    by_validity: dict[str, int]
    verify_ready_rows: int
    left_out_by_reason: dict[str, int]
    # Users of the id list whose batch has no phone table yet, and those batches.
    users_without_row: int = 0
    missing_batches: tuple[str, ...] = ()

    @property
    def partial_note(self) -> str | None:
        """Return a sentence saying that the export lacks users, or None when it lacks none."""
        if not self.users_without_row and not self.missing_batches:
            return None
        listed = ", ".join(self.missing_batches[:MISSING_BATCHES_LISTED])
        if len(self.missing_batches) > MISSING_BATCHES_LISTED:
            listed += f" and {len(self.missing_batches) - MISSING_BATCHES_LISTED} more"
        batches = f" The batches without a phone table are {listed}." if listed else ""
        return (
            f"Partial export: {self.users_without_row} users of the id list have no row yet."
            f"{batches} Run `authy-assets run` again, or materialize authy_raw_responses and"
            " authy_phone_numbers for those batches, then the export."
        )

    @property
    def verify_ready(self) -> dict[str, int]:
        return {READY_LABEL: self.verify_ready_rows, **self.left_out_by_reason}

    def sections(self) -> list[tuple[str, dict[str, int]]]:
        """Return (title, counts by label) for each chart, in the order the report shows them.

        The region chart comes last because it can have over 200 rows.
        """
        return [
            ("Users by status", self.by_status),
            ("Verify-ready users and reasons for leaving users out", self.verify_ready),
            ("Users by validity", self.by_validity),
            ("Users by number type", self.by_number_type),
            ("Users by region", self.by_region),
        ]


def _most_common_first(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def _validity_label(is_possible: bool | None, is_valid: bool | None) -> str:
    if is_valid:
        return VALID_LABEL
    if is_possible:
        return POSSIBLE_NOT_VALID_LABEL
    return NOT_POSSIBLE_LABEL


def summarize_export(
    export: pa.Table,
    selection: VerifyReadySelection,
    *,
    users_without_row: int = 0,
    missing_batches: Sequence[str] = (),
) -> ExportSummary:
    """Count the users of ``export`` (the phone-number table's columns) for the summary."""
    columns = ["status", "region_code", "number_type", "is_possible", "is_valid"]
    by_status: Counter[str] = Counter()
    by_region: Counter[str] = Counter()
    by_number_type: Counter[str] = Counter()
    by_validity: Counter[str] = Counter()

    for row in export.select(columns).to_pylist():
        by_status[row["status"]] += 1
        if row["status"] != ExportStatus.ok.value:
            by_region[NO_NUMBER_LABEL] += 1
            by_number_type[NO_NUMBER_LABEL] += 1
            by_validity[NO_NUMBER_LABEL] += 1
            continue
        by_region[row["region_code"] or NONE_LABEL] += 1
        by_number_type[row["number_type"] or NONE_LABEL] += 1
        by_validity[_validity_label(row["is_possible"], row["is_valid"])] += 1

    return ExportSummary(
        users=export.num_rows,
        by_status=_most_common_first(by_status),
        by_region=_most_common_first(by_region),
        by_number_type=_most_common_first(by_number_type),
        by_validity=_most_common_first(by_validity),
        verify_ready_rows=selection.ready_rows,
        left_out_by_reason=dict(selection.left_out_by_reason),
        users_without_row=users_without_row,
        missing_batches=tuple(missing_batches),
    )


def _markdown_cell(label: str) -> str:
    # A Markdown renderer may pass raw HTML through, so labels are HTML-escaped as well.
    return escape(label, quote=False).replace("\\", "\\\\").replace("|", "\\|")


def summary_markdown(summary: ExportSummary) -> str:
    """Render every section of ``summary`` as a Markdown table of labels and user counts."""
    lines = [f"**{summary.users} users**, {summary.verify_ready_rows} verify-ready."]
    if summary.partial_note:
        lines += ["", f"**{_markdown_cell(summary.partial_note)}**"]
    for title, counts in summary.sections():
        lines += ["", f"**{title}**", "", "| | users |", "|---|---:|"]
        if not counts:
            lines.append("| none | 0 |")
        for label, count in counts.items():
            lines.append(f"| {_markdown_cell(label)} | {count} |")
    return "\n".join(lines)
