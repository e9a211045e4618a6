"""The export's contract: which files it writes, their key-value metadata, the users ready for
Twilio Verify and the summary report. authy_phone_export calls write_export."""

from authy_assets.export.collect import CollectedExport, collect_export_table
from authy_assets.export.file_metadata import (
    AUTHY_ASSETS_VERSION_KEY,
    PHONENUMBERS_VERSION_KEY,
    SCHEMA_VERSION_KEY,
    WRITTEN_AT_KEY,
    export_file_metadata,
    read_file_metadata,
)
from authy_assets.export.outputs import ExportOutputs, export_outputs
from authy_assets.export.summary import ExportSummary, summarize_export, summary_markdown
from authy_assets.export.summary_html import render_summary_html
from authy_assets.export.verify_ready import (
    RULE_REASONS,
    SMS_CAPABLE_TYPES,
    VerifyReadySelection,
    is_sms_capable,
    select_verify_ready,
)
from authy_assets.export.write import WrittenExport, write_export

__all__ = [
    "AUTHY_ASSETS_VERSION_KEY",
    "PHONENUMBERS_VERSION_KEY",
    "RULE_REASONS",
    "SCHEMA_VERSION_KEY",
    "SMS_CAPABLE_TYPES",
    "WRITTEN_AT_KEY",
    "CollectedExport",
    "ExportOutputs",
    "ExportSummary",
    "VerifyReadySelection",
    "WrittenExport",
    "collect_export_table",
    "export_file_metadata",
    "export_outputs",
    "is_sms_capable",
    "read_file_metadata",
    "render_summary_html",
    "select_verify_ready",
    "summarize_export",
    "summary_markdown",
    "write_export",
]
