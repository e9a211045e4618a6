"""The whole asset chain through Dagster against the emulator over a socket."""

from __future__ import annotations

import pyarrow.compute as pc


def test_pipeline_exports_one_row_per_user(start_authy_emulator, make_project):
    emulator = start_authy_emulator(population_size=300)
    authy_ids = [*range(1, 251), 900_001, 900_002]
    project = make_project(emulator.url, authy_ids)

    export = project.run_all()

    assert export.num_rows == len(authy_ids)
    assert sorted(export.column("authy_id").to_pylist()) == sorted(authy_ids)
    assert len(project.batch_keys()) == 3
    user_1 = export.filter(pc.field("authy_id") == 1).to_pylist()[0]
    assert user_1["status"] == "ok"
    assert user_1["phone_number"] == "444-555-6666"
    assert user_1["country_code"] == "1"
    assert user_1["e164"] == "+14445556666"
    assert user_1["updated_at"].isoformat() == "2021-12-09T15:41:20+00:00"
    unknown = export.filter(pc.field("authy_id") == 900_001).to_pylist()[0]
    assert unknown["status"] == "user_not_found"
    assert unknown["error_code"] == "60026"
