"""The ``AUTHY_*`` environment variables, read into the project's resources and checked."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from authy_assets.client.settings import FetchSettings
from authy_assets.files import file_mode
from authy_assets.paths import (
    DEFAULT_API_URL,
    DEFAULT_BATCH_SIZE,
    DEFAULT_DATA_DIR,
    DEFAULT_RATE_LIMIT,
    DEFAULT_USER_IDS,
    env_int,
    env_path,
)
from authy_assets.resources import AuthyApiResource, AuthyStorageResource


def storage_from_env() -> AuthyStorageResource:
    """Build the storage resource from AUTHY_DATA_DIR, AUTHY_USER_IDS and AUTHY_BATCH_SIZE.

    Raises ValueError, naming AUTHY_BATCH_SIZE, for a batch size that is not a whole number of
    at least 1.
    """
    return AuthyStorageResource(
        data_dir=env_path("AUTHY_DATA_DIR", DEFAULT_DATA_DIR),
        user_ids_path=env_path("AUTHY_USER_IDS", DEFAULT_USER_IDS),
        batch_size=env_int("AUTHY_BATCH_SIZE", DEFAULT_BATCH_SIZE, minimum=1),
    )


def api_from_env(storage: AuthyStorageResource, api_key: str) -> AuthyApiResource:
    """Build the API resource from AUTHY_API_URL and AUTHY_RATE_LIMIT.

    ``api_key`` is the key itself or ``dg.EnvVar("AUTHY_API_KEY")``, which Dagster resolves when
    a run starts. ``fetch_settings()`` of the result checks the URL and the key.
    """
    return AuthyApiResource(
        base_url=os.environ.get("AUTHY_API_URL", "").strip() or DEFAULT_API_URL,
        api_key=api_key,
        state_dir=str(storage.state_dir),
        rate_limit=env_int("AUTHY_RATE_LIMIT", DEFAULT_RATE_LIMIT, minimum=1),
    )


@dataclass(frozen=True)
class RunSettings:
    """Checked settings of one ``authy-assets run``. ``fetch`` leaves the API key out of its repr."""

    storage: AuthyStorageResource
    fetch: FetchSettings


def load_run_settings() -> RunSettings:
    """Build the resources from the environment and check every setting a run depends on.

    Raises ValueError with a message that names the environment variable, its value (never the
    API key) and the fix. AuthySettingsError, raised for AUTHY_API_URL and AUTHY_API_KEY, is a
    ValueError too.
    """
    storage = storage_from_env()
    api = api_from_env(storage, os.environ.get("AUTHY_API_KEY", ""))
    fetch = api.fetch_settings()
    # Raises ValueError for an AUTHY_SHARE_WITH_GROUP other than 0 or 1.
    file_mode()
    _check_data_dir(Path(storage.data_dir))
    _check_id_list(Path(storage.user_ids_path))
    return RunSettings(storage=storage, fetch=fetch)


def _check_data_dir(data_dir: Path) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise ValueError(
            f"AUTHY_DATA_DIR is {str(data_dir)!r}, which is not a directory: point AUTHY_DATA_DIR"
            f" at a directory, or unset it to use {DEFAULT_DATA_DIR}"
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
