"""Paths of the files that one export writes, all next to the export's Parquet file."""

from dataclasses import dataclass
from pathlib import Path

VERIFY_READY_STEM = "verify_ready"
SUMMARY_SUFFIX = "_summary.html"


@dataclass(frozen=True)
class ExportOutputs:
    """Files of one export. Each one is replaced atomically when the export is rebuilt."""

    export_parquet: Path
    verify_ready_csv: Path
    verify_ready_parquet: Path
    summary_html: Path


def export_outputs(export_file: Path) -> ExportOutputs:
    """Return the paths of every file written with ``export_file``, in the same directory.

    data/exports/authy_phone_numbers.parquet gives data/exports/verify_ready.csv,
    data/exports/verify_ready.parquet and data/exports/authy_phone_numbers_summary.html.
    """
    export_file = Path(export_file)
    directory = export_file.parent
    return ExportOutputs(
        export_parquet=export_file,
        verify_ready_csv=directory / f"{VERIFY_READY_STEM}.csv",
        verify_ready_parquet=directory / f"{VERIFY_READY_STEM}.parquet",
        summary_html=directory / f"{export_file.stem}{SUMMARY_SUFFIX}",
    )
