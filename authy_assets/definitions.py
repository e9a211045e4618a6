"""The Dagster definitions that ``dagster dev`` and ``authy-assets run`` load."""

import os

import dagster as dg

from authy_assets.assets import (
    authy_phone_export,
    authy_phone_numbers,
    authy_raw_responses,
    authy_user_ids,
)
from authy_assets.automation import (
    authy_export_sensor,
    authy_monthly_refresh,
    authy_user_ids_sensor,
)
from authy_assets.jobs import export_job, fetch_batch_job, user_ids_job
from authy_assets.resources import AuthyApiResource, AuthyStorageResource
from authy_assets.paths import (
    DEFAULT_API_URL,
    DEFAULT_BATCH_SIZE,
    DEFAULT_DATA_DIR,
    DEFAULT_USER_IDS,
    env_int,
    env_path,
)


def build_definitions() -> dg.Definitions:
    """Build the definitions from the ``AUTHY_*`` environment variables."""
    data_dir = env_path("AUTHY_DATA_DIR", DEFAULT_DATA_DIR)
    storage = AuthyStorageResource(
        data_dir=data_dir,
        user_ids_path=env_path("AUTHY_USER_IDS", DEFAULT_USER_IDS),
        batch_size=env_int("AUTHY_BATCH_SIZE", DEFAULT_BATCH_SIZE),
    )
    api = AuthyApiResource(
        base_url=os.environ.get("AUTHY_API_URL", "").strip() or DEFAULT_API_URL,
        api_key=dg.EnvVar("AUTHY_API_KEY"),
        state_dir=str(storage.state_dir),
        rate_limit=env_int("AUTHY_RATE_LIMIT", 1500),
    )
    return dg.Definitions(
        assets=[authy_user_ids, authy_raw_responses, authy_phone_numbers, authy_phone_export],
        jobs=[user_ids_job, fetch_batch_job, export_job],
        sensors=[authy_user_ids_sensor, authy_export_sensor],
        schedules=[authy_monthly_refresh],
        resources={"authy_api": api, "authy_storage": storage},
    )


defs = build_definitions()
