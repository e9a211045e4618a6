"""Fixtures shared by the tests: a loopback emulator, a temporary project and Dagster instance."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from authy_assets.emulator import EmulatorConfig, RunningEmulator, start_emulator
from authy_assets_tests.pipeline import Project

# A key that is easy to search for in files and logs.
API_KEY = "TESTKEY-5f0c1d2e3b4a-authy-assets-do-not-leak"


@pytest.fixture
def start_authy_emulator() -> Iterator[Callable[..., RunningEmulator]]:
    """Start emulators on 127.0.0.1 with the test key and no latency; stop them afterwards."""
    running: list[RunningEmulator] = []

    def start(**settings: object) -> RunningEmulator:
        settings.setdefault("latency", "none")
        emulator = start_emulator(EmulatorConfig(**{"api_key": API_KEY, **settings}))
        running.append(emulator)
        return emulator

    yield start
    for emulator in running:
        emulator.stop()


@pytest.fixture
def dagster_instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def make_project(
    tmp_path: Path, dagster_instance: dg.DagsterInstance
) -> Callable[..., Project]:
    """Build a project in a temporary data directory against a given emulator URL."""

    def make(base_url: str, authy_ids: list[int] | None = None, **api_settings: object) -> Project:
        data_dir = tmp_path / "data"
        ids_file = tmp_path / "authy_user_ids.csv"
        if authy_ids is not None:
            ids_file.write_text("authy_id\n" + "".join(f"{value}\n" for value in authy_ids))
        return Project(
            instance=dagster_instance,
            data_dir=data_dir,
            user_ids_path=ids_file,
            base_url=base_url,
            api_key=API_KEY,
            api_settings=api_settings,
        )

    return make


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    """A Dagster home directory on disk that child processes open through DAGSTER_HOME."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    return home


@pytest.fixture
def shared_instance(dagster_home: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        yield instance


@pytest.fixture
def make_shared_project(
    tmp_path: Path, shared_instance: dg.DagsterInstance
) -> Callable[..., Project]:
    """Like ``make_project``, on an instance that child processes can open too."""

    def make(base_url: str, authy_ids: list[int], **api_settings: object) -> Project:
        ids_file = tmp_path / "authy_user_ids.csv"
        ids_file.write_text("authy_id\n" + "".join(f"{value}\n" for value in authy_ids))
        return Project(
            instance=shared_instance,
            data_dir=tmp_path / "data",
            user_ids_path=ids_file,
            base_url=base_url,
            api_key=API_KEY,
            api_settings=api_settings,
        )

    return make
