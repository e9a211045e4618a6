"""The Dagster definitions that ``dagster dev`` and ``authy-assets run`` load."""

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
from authy_assets.environment import api_from_env, storage_from_env
from authy_assets.jobs import export_job, fetch_batch_job, user_ids_job


def build_definitions() -> dg.Definitions:
    """Build the definitions from the ``AUTHY_*`` environment variables.

    Raises ValueError, naming the variable, for an AUTHY_BATCH_SIZE or AUTHY_RATE_LIMIT that is
    not a whole number of at least 1.
    """
    storage = storage_from_env()
    api = api_from_env(storage, dg.EnvVar("AUTHY_API_KEY"))
    return dg.Definitions(
        assets=[authy_user_ids, authy_raw_responses, authy_phone_numbers, authy_phone_export],
        jobs=[user_ids_job, fetch_batch_job, export_job],
        sensors=[authy_user_ids_sensor, authy_export_sensor],
        schedules=[authy_monthly_refresh],
        resources={"authy_api": api, "authy_storage": storage},
    )


defs = build_definitions()
