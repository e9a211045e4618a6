"""Where the project's inputs, outputs and state live by default."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_USER_IDS = DEFAULT_DATA_DIR / "input" / "authy_user_ids.csv"
DEFAULT_DAGSTER_HOME = PROJECT_ROOT / ".dagster_home"
DEFAULT_API_URL = "https://api.authy.com"
DEFAULT_BATCH_SIZE = 1000


def env_path(name: str, default: Path) -> str:
    """Return the path an environment variable names, or ``default`` when it is unset or empty."""
    value = os.environ.get(name, "").strip()
    return str(Path(value).expanduser()) if value else str(default)


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
