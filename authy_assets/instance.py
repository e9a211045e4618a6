"""The project's Dagster instance directory (DAGSTER_HOME)."""

from __future__ import annotations

from pathlib import Path

# Dagster's defaults (SQLite storage inside DAGSTER_HOME), without usage telemetry: phone
# number exports should not report to a third party, and CI has no network for it anyway.
DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def prepare_dagster_home(home: Path) -> Path:
    """Create ``home`` (``~`` expanded) and, if it has none, a dagster.yaml without telemetry."""
    home = Path(home).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home
