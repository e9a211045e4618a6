"""Batches materialized in separate processes share the app's rate limit."""

from __future__ import annotations

from authy_assets_tests.conftest import API_KEY
from authy_assets_tests.processes import start_batch_process, write_spec

RATE_LIMIT = 30
RATE_WINDOW_SECONDS = 3.0


def test_two_batch_processes_stay_under_limit(
    start_authy_emulator, make_shared_project, dagster_home, tmp_path
):
    emulator = start_authy_emulator(
        population_size=200, rate_limit=RATE_LIMIT, rate_window_seconds=RATE_WINDOW_SECONDS
    )
    project = make_shared_project(
        emulator.url,
        list(range(1, 121)),
        rate_limit=RATE_LIMIT,
        rate_window_seconds=RATE_WINDOW_SECONDS,
        # Three processes share two cores here, so a request can leave a few hundred ms late.
        rate_margin_seconds=0.5,
    )
    project.batch_size = 60
    project.materialize_user_ids()
    batch_keys = project.batch_keys()
    assert len(batch_keys) == 2
    emulator.reset_stats()

    spec = write_spec(project, tmp_path / "spec.json")
    processes = [
        start_batch_process(
            spec, key, dagster_home=dagster_home, api_key=API_KEY, log_path=tmp_path / f"{key}.log"
        )
        for key in batch_keys
    ]
    exit_codes = [process.wait(timeout=300) for process in processes]

    assert exit_codes == [0, 0], [(tmp_path / f"{key}.log").read_text()[-3000:] for key in batch_keys]
    stats = emulator.stats()
    assert stats["requests_total"] == 120
    assert "429" not in stats["requests_per_status"]
    assert stats["max_requests_in_window"] <= RATE_LIMIT
    for key in batch_keys:
        assert project.phones(key).num_rows == 60
