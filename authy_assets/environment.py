"""The ``AUTHY_*`` environment variables, read into the project's resources and checked."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from authy_assets.batches import MAX_BATCH_SIZE
from authy_assets.client.settings import MAX_RATE_LIMIT, FetchSettings
from authy_assets.files import file_mode
from authy_assets.paths import (
    DEFAULT_API_URL,
    DEFAULT_BATCH_SIZE,
    DEFAULT_DAGSTER_HOME,
    DEFAULT_DATA_DIR,
    DEFAULT_RATE_LIMIT,
    DEFAULT_USER_IDS,
    env_int,
    env_path,
)
from authy_assets.resources import AuthyApiResource, AuthyStorageResource


def storage_from_env() -> AuthyStorageResource:
    """Build the storage resource from AUTHY_DATA_DIR, AUTHY_USER_IDS and AUTHY_BATCH_SIZE.

    Raises ValueError, naming AUTHY_BATCH_SIZE, for a batch size that is not a whole number
    from 1 to MAX_BATCH_SIZE.
    """
    return AuthyStorageResource(
        data_dir=env_path("AUTHY_DATA_DIR", DEFAULT_DATA_DIR),
        user_ids_path=env_path("AUTHY_USER_IDS", DEFAULT_USER_IDS),
        batch_size=_env_int_in_range("AUTHY_BATCH_SIZE", DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE),
    )


def api_from_env(storage: AuthyStorageResource, api_key: str) -> AuthyApiResource:
    """Build the API resource from AUTHY_API_URL and AUTHY_RATE_LIMIT.

    ``api_key`` is the key itself or ``dg.EnvVar("AUTHY_API_KEY")``, which Dagster resolves when
    a run starts. ``fetch_settings()`` of the result checks the URL and the key. Raises
    ValueError, naming AUTHY_RATE_LIMIT, for a rate limit that is not a whole number from 1 to
    MAX_RATE_LIMIT.
    """
    return AuthyApiResource(
        base_url=os.environ.get("AUTHY_API_URL", "").strip() or DEFAULT_API_URL,
        api_key=api_key,
        state_dir=str(storage.state_dir),
        rate_limit=_env_int_in_range("AUTHY_RATE_LIMIT", DEFAULT_RATE_LIMIT, MAX_RATE_LIMIT),
    )


def _env_int_in_range(name: str, default: int, maximum: int) -> int:
    """Return the whole number from 1 to ``maximum`` that ``name`` holds, or ``default``."""
    number = env_int(name, default, minimum=1)
    if number > maximum:
        raise ValueError(
            f"{name} must be a whole number from 1 to {maximum:,}, got"
            f" {os.environ[name].strip()!r}. Correct it, or unset {name} to use the default"
            f" {default}."
        )
    return number


@dataclass(frozen=True)
class RunSettings:
    """Checked settings of one ``authy-assets run``. ``fetch`` leaves the API key out of its repr."""

    storage: AuthyStorageResource
    fetch: FetchSettings


def load_run_settings() -> RunSettings:
    """Build the resources from the environment and check every setting a run depends on.

    Raises ValueError with a message that names the environment variable, its value (never the
    API key) and the fix. AuthySettingsError, raised for AUTHY_API_URL and AUTHY_API_KEY, is a
    ValueError too. Creates the data directory and DAGSTER_HOME when they do not exist, but
    only after every other check has passed.
    """
    storage = storage_from_env()
    api = api_from_env(storage, os.environ.get("AUTHY_API_KEY", ""))
    fetch = api.fetch_settings()
    # Raises ValueError for an AUTHY_SHARE_WITH_GROUP other than 0 or 1.
    file_mode()
    data_dir = Path(storage.data_dir)
    # The same path that `authy-assets run` gives Dagster.
    dagster_home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).expanduser()
    _check_not_a_file("AUTHY_DATA_DIR", data_dir, DEFAULT_DATA_DIR)
    _check_not_a_file("DAGSTER_HOME", dagster_home, DEFAULT_DAGSTER_HOME)
    _check_id_list(Path(storage.user_ids_path))
    ensure_writable_directory("AUTHY_DATA_DIR", data_dir, DEFAULT_DATA_DIR)
    ensure_writable_directory("DAGSTER_HOME", dagster_home, DEFAULT_DAGSTER_HOME)
    return RunSettings(storage=storage, fetch=fetch)


def ensure_writable_directory(name: str, path: Path, default: Path) -> None:
    """Create the directory that the variable ``name`` sets, and check that files can be written.

    Raises ValueError, naming ``name``, ``path`` and the reason, when the directory cannot be
    created or no file can be created in it. A missing parent is created too.
    """
    _check_not_a_file(name, path, default)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = f"creating it failed ({error.strerror or type(error).__name__})"
        raise _unusable_directory(name, path, default, reason) from None
    try:
        # Only creating a file shows that a run can write here: os.access grants root write
        # access to almost every directory.
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        reason = f"creating a file in it failed ({error.strerror or type(error).__name__})"
        raise _unusable_directory(name, path, default, reason) from None


def _check_not_a_file(name: str, path: Path, default: Path) -> None:
    if path.exists() and not path.is_dir():
        raise _unusable_directory(name, path, default, "it is not a directory")


def _unusable_directory(name: str, path: Path, default: Path, reason: str) -> ValueError:
    return ValueError(
        f"{name} ({str(path)!r}) cannot be used: {reason}; set it to a writable directory, or"
        f" unset it to use {default}"
    )


def _check_id_list(path: Path) -> None:
    if os.environ.get("AUTHY_USER_IDS", "").strip():
        source = f"AUTHY_USER_IDS is {str(path)!r}, which"
    else:
        source = f"AUTHY_USER_IDS is not set, and the default id list {str(path)!r}"
    fix = "point AUTHY_USER_IDS at the list of Authy user ids (CSV, plain text or Parquet)"
    if not path.exists():
        raise ValueError(f"{source} does not exist: {fix}")
    if not path.is_file():
        raise ValueError(f"{source} is not a file: {fix}")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{source} is not readable by this user: {fix}, or make it readable")
