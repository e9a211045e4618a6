"""Parquet key-value metadata of the export's files: schema version, write time, versions."""

from datetime import datetime
from importlib import metadata as package_metadata
from pathlib import Path

import phonenumbers
import pyarrow.parquet as pq

from authy_assets.schema import EXPORT_SCHEMA_VERSION

KEY_PREFIX = "authy_assets."
SCHEMA_VERSION_KEY = f"{KEY_PREFIX}schema_version"
WRITTEN_AT_KEY = f"{KEY_PREFIX}written_at"
PHONENUMBERS_VERSION_KEY = f"{KEY_PREFIX}phonenumbers_version"
AUTHY_ASSETS_VERSION_KEY = f"{KEY_PREFIX}version"

DISTRIBUTION_NAME = "authy-assets"
UNKNOWN_VERSION = "unknown"


def authy_assets_version() -> str:
    """Return the installed version of the authy-assets distribution.

    Returns "unknown" when the package runs from a source tree that was never installed.
    """
    try:
        return package_metadata.version(DISTRIBUTION_NAME)
    except package_metadata.PackageNotFoundError:
        return UNKNOWN_VERSION


def export_file_metadata(written_at: datetime) -> dict[str, str]:
    """Return the key-value metadata of a file written at ``written_at``.

    The time is written in ISO 8601 with its UTC offset, such as
    2026-05-01T10:00:00.123456+00:00. Raises ValueError for a naive or non-UTC datetime.
    """
    offset = written_at.utcoffset()
    if offset is None or offset.total_seconds() != 0:
        raise ValueError(
            f"written_at must be a UTC datetime, got {written_at.isoformat()}."
            " Pass datetime.now(UTC)."
        )
    return {
        SCHEMA_VERSION_KEY: EXPORT_SCHEMA_VERSION,
        WRITTEN_AT_KEY: written_at.isoformat(),
        PHONENUMBERS_VERSION_KEY: phonenumbers.__version__,
        AUTHY_ASSETS_VERSION_KEY: authy_assets_version(),
    }


def read_file_metadata(path: Path) -> dict[str, str]:
    """Read the ``authy_assets.`` keys of a Parquet file's key-value metadata."""
    stored = pq.read_metadata(path).metadata or {}
    decoded = {key.decode(): value.decode() for key, value in stored.items()}
    return {key: value for key, value in decoded.items() if key.startswith(KEY_PREFIX)}
