"""Materialize one batch in a separate process, as a Dagster backfill run does.

Usage: ``python -m authy_assets_tests.run_batch SPEC_JSON BATCH_KEY``, with the API key in
``AUTHY_API_KEY`` and ``DAGSTER_HOME`` naming the instance shared with the parent test.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import dagster as dg

from authy_assets_tests.pipeline import Project


def project_from_spec(spec: dict, instance: dg.DagsterInstance) -> Project:
    return Project(
        instance=instance,
        data_dir=Path(spec["data_dir"]),
        user_ids_path=Path(spec["user_ids_path"]),
        base_url=spec["base_url"],
        api_key=os.environ["AUTHY_API_KEY"],
        batch_size=spec["batch_size"],
        api_settings=spec.get("api_settings", {}),
    )


def main(spec_path: str, batch_key: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    with dg.DagsterInstance.get() as instance:
        result = project_from_spec(spec, instance).materialize_batch(batch_key, raise_on_error=False)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
