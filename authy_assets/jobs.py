"""Jobs that the command line, the schedule and the sensors launch."""

import dagster as dg


user_ids_job = dg.define_asset_job(
    "authy_user_ids_job",
    selection=dg.AssetSelection.assets("authy_user_ids"),
    description="Read the id list, assign new users to batches and register the new batches.",
)

fetch_batch_job = dg.define_asset_job(
    "authy_fetch_batch_job",
    selection=dg.AssetSelection.assets("authy_raw_responses", "authy_phone_numbers"),
    description="Fetch one batch of users from the Authy API and build its phone table.",
)

export_job = dg.define_asset_job(
    "authy_export_job",
    selection=dg.AssetSelection.assets("authy_phone_export"),
    description="Rebuild the Parquet export from every batch's phone table.",
)
