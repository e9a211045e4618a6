"""Default locations of the project's inputs, outputs and state."""

from __future__ import annotations

import os
import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_USER_IDS = DEFAULT_DATA_DIR / "input" / "authy_user_ids.csv"
DEFAULT_DAGSTER_HOME = PROJECT_ROOT / ".dagster_home"
DEFAULT_API_URL = "https://api.authy.com"
DEFAULT_BATCH_SIZE = 1000
DEFAULT_RATE_LIMIT = 1500

# ASCII digits only: int() would also take "1_000" and digits of other scripts.
_WHOLE_NUMBER_RE = re.compile(r"[+-]?[0-9]+")


def env_path(name: str, default: Path) -> str:
    """Return the path an environment variable names, or ``default`` when it is unset or empty."""
    value = os.environ.get(name, "").strip()
    return str(Path(value).expanduser()) if value else str(default)


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """Return the whole number an environment variable holds, or ``default`` when unset or empty.

    Raises ValueError, naming the variable and its value, for anything that is not a whole
    number or is below ``minimum``.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    expected = "a whole number" if minimum is None else f"a whole number of at least {minimum}"
    message = (
        f"{name} must be {expected}, got {value!r}. Correct it, or unset {name} to use the"
        f" default {default}."
    )
    if not _WHOLE_NUMBER_RE.fullmatch(value):
        raise ValueError(message)
    number = int(value)
    if minimum is not None and number < minimum:
        raise ValueError(message)
    return number
