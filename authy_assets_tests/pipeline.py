"""Run the asset chain through Dagster on a temporary instance, the way the UI would."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from authy_assets.assets import (
    authy_phone_export,
    authy_phone_numbers,
    authy_raw_responses,
    authy_user_ids,
)
from authy_assets.partitions import BATCHES_PARTITION_NAME
from authy_assets.resources import AuthyApiResource, AuthyStorageResource


@dataclass
class Project:
    """A data directory, an id list and the resources that point at an emulator."""

    instance: dg.DagsterInstance
    data_dir: Path
    user_ids_path: Path
    base_url: str
    api_key: str
    batch_size: int = 100
    api_settings: dict[str, object] = field(default_factory=dict)

    @property
    def storage(self) -> AuthyStorageResource:
        return AuthyStorageResource(
            data_dir=str(self.data_dir),
            user_ids_path=str(self.user_ids_path),
            batch_size=self.batch_size,
        )

    @property
    def api(self) -> AuthyApiResource:
        settings = {
            "backoff_base_seconds": 0.05,
            "backoff_max_seconds": 0.2,
            "progress_interval_seconds": 0.5,
            **self.api_settings,
        }
        return AuthyApiResource(
            base_url=self.base_url,
            api_key=self.api_key,
            state_dir=str(self.storage.state_dir),
            **settings,
        )

    @property
    def resources(self) -> dict[str, object]:
        return {"authy_api": self.api, "authy_storage": self.storage}

    def materialize_user_ids(self) -> dg.ExecuteInProcessResult:
        return dg.materialize([authy_user_ids], instance=self.instance, resources=self.resources)

    def batch_keys(self) -> list[str]:
        return sorted(self.instance.get_dynamic_partitions(BATCHES_PARTITION_NAME))

    def materialize_batch(
        self, batch_key: str, *, raise_on_error: bool = True
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [authy_raw_responses, authy_phone_numbers],
            instance=self.instance,
            resources=self.resources,
            partition_key=batch_key,
            raise_on_error=raise_on_error,
        )

    def materialize_export(self) -> dg.ExecuteInProcessResult:
        return dg.materialize([authy_phone_export], instance=self.instance, resources=self.resources)

    def run_all(self) -> pa.Table:
        """Materialize every asset for every batch and return the export."""
        self.materialize_user_ids()
        for batch_key in self.batch_keys():
            self.materialize_batch(batch_key)
        self.materialize_export()
        return pq.read_table(self.storage.export_file)

    def phones(self, batch_key: str) -> pa.Table:
        return pq.read_table(self.storage.phones_file(batch_key))

    def raw(self, batch_key: str) -> pa.Table:
        return pq.read_table(self.storage.raw_file(batch_key))
