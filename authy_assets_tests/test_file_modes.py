"""Files and directories that contain phone numbers or quota state are owner-only from creation."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from authy_assets.batches import BatchAssignments
from authy_assets.client.store import RequestLedger
from authy_assets.files import (
    create_private_database,
    create_private_file,
    dir_mode,
    ensure_private_dir,
    file_mode,
    write_parquet_atomically,
)
from authy_assets.ids import read_user_ids

REPO_ROOT = Path(__file__).resolve().parents[1]
AUTHY_IDS = [*range(1, 31), 900_001]
SIDECARS = ("-wal", "-shm")
# A phone number that the killed process below writes into the ledger.
PHONE_BODY = '{"phone_number": "444-555-6666", "country_code": "1"}'


@pytest.fixture
def umask_022() -> Iterator[None]:
    """Set the common umask 0o022, under which SQLite and pyarrow create files as 0o644."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def share_with_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHY_SHARE_WITH_GROUP", "1")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def modes_under(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Return the octal modes of the directories (``root`` included) and files under ``root``."""
    directories = {".": oct(mode_of(root))}
    regular_files = {}
    for parent, directory_names, file_names in os.walk(root):
        for name in directory_names:
            path = Path(parent, name)
            directories[str(path.relative_to(root))] = oct(mode_of(path))
        for name in file_names:
            path = Path(parent, name)
            regular_files[str(path.relative_to(root))] = oct(mode_of(path))
    return directories, regular_files


@contextmanager
def sqlite_readers(state_dir: Path) -> Iterator[None]:
    """Hold a reader on every database in ``state_dir``, which keeps its -wal and -shm files.

    SQLite deletes both files when the last connection closes, and a reader in WAL mode creates
    them again, with the mode it takes from the database file.
    """
    with ExitStack() as stack:
        for path in sorted(state_dir.glob("*.sqlite3")):
            connection = sqlite3.connect(path)
            stack.callback(connection.close)
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        yield


def run_pipeline_and_read_modes(
    start_authy_emulator, make_project
) -> tuple[dict[str, str], dict[str, str]]:
    emulator = start_authy_emulator(population_size=40)
    project = make_project(emulator.url, AUTHY_IDS, rate_limit=60_000)

    export = project.run_all()

    assert export.num_rows == len(AUTHY_IDS)
    with sqlite_readers(project.storage.state_dir):
        directories, regular_files = modes_under(project.data_dir)
    for name in ("authy_ledger", "authy_batches", "authy_rate_limiter"):
        for suffix in SIDECARS:
            assert f"state/{name}.sqlite3{suffix}" in regular_files
    return directories, regular_files


# --- whole pipeline through Dagster -------------------------------------------------------


@pytest.mark.usefixtures("umask_022")
def test_pipeline_files_owner_only(start_authy_emulator, make_project):
    directories, regular_files = run_pipeline_and_read_modes(start_authy_emulator, make_project)

    assert {"raw", "phones", "exports", "state"} <= set(directories)
    assert {path: mode for path, mode in directories.items() if mode != "0o700"} == {}
    assert {path: mode for path, mode in regular_files.items() if mode != "0o600"} == {}


@pytest.mark.usefixtures("umask_022", "share_with_group")
def test_pipeline_shares_with_group(start_authy_emulator, make_project):
    directories, regular_files = run_pipeline_and_read_modes(start_authy_emulator, make_project)

    assert {path: mode for path, mode in directories.items() if mode != "0o750"} == {}
    assert {path: mode for path, mode in regular_files.items() if mode != "0o640"} == {}


@pytest.mark.usefixtures("umask_022", "share_with_group")
def test_pipeline_shares_existing_data_dir(start_authy_emulator, make_project, tmp_path):
    (tmp_path / "data" / "state").mkdir(parents=True)
    os.chmod(tmp_path / "data", 0o700)
    os.chmod(tmp_path / "data" / "state", 0o700)

    directories, regular_files = run_pipeline_and_read_modes(start_authy_emulator, make_project)

    assert directories["."] == "0o750"
    assert directories["state"] == "0o750"
    assert {path: mode for path, mode in directories.items() if mode != "0o750"} == {}
    assert {path: mode for path, mode in regular_files.items() if mode != "0o640"} == {}


def test_pipeline_invalid_share_setting(make_project, monkeypatch, tmp_path):
    monkeypatch.setenv("AUTHY_SHARE_WITH_GROUP", "yes")
    # authy_user_ids never calls the API, so no server listens at this loopback address.
    project = make_project("http://127.0.0.1:9", AUTHY_IDS)

    # Dagster re-raises the asset's own error from materialize.
    with pytest.raises(ValueError, match="invalid AUTHY_SHARE_WITH_GROUP value 'yes'"):
        project.materialize_user_ids()

    assert not (tmp_path / "data").exists()


# --- modes and their setting ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["yes", "2", "true", "0o640"])
def test_invalid_share_setting_names_variable(monkeypatch, value):
    monkeypatch.setenv("AUTHY_SHARE_WITH_GROUP", value)

    with pytest.raises(ValueError, match=r"invalid AUTHY_SHARE_WITH_GROUP value") as caught:
        file_mode()

    assert repr(value) in str(caught.value)
    with pytest.raises(ValueError, match="AUTHY_SHARE_WITH_GROUP"):
        dir_mode()


@pytest.mark.parametrize(
    ("value", "expected"), [(None, (0o600, 0o700)), ("", (0o600, 0o700)), ("0", (0o600, 0o700)),
                            (" 1 ", (0o640, 0o750))]
)
def test_share_setting_modes(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("AUTHY_SHARE_WITH_GROUP", raising=False)
    else:
        monkeypatch.setenv("AUTHY_SHARE_WITH_GROUP", value)

    assert (file_mode(), dir_mode()) == expected


# --- directories ------------------------------------------------------------------------------


@pytest.mark.usefixtures("umask_022")
def test_ensure_private_dir_creates_parents(tmp_path):
    os.chmod(tmp_path, 0o755)
    target = tmp_path / "data" / "state" / "deep"

    ensure_private_dir(target)

    assert mode_of(tmp_path / "data") == 0o700
    assert mode_of(tmp_path / "data" / "state") == 0o700
    assert mode_of(target) == 0o700
    assert mode_of(tmp_path) == 0o755


@pytest.mark.usefixtures("umask_022")
def test_ensure_private_dir_fixes_existing(tmp_path):
    target = tmp_path / "data"
    target.mkdir(mode=0o777)
    os.chmod(target, 0o755)

    ensure_private_dir(target)

    assert mode_of(target) == 0o700


def test_ensure_private_dir_exact_under_strict_umask(tmp_path, share_with_group):
    previous = os.umask(0o077)
    try:
        ensure_private_dir(tmp_path / "data" / "state")
    finally:
        os.umask(previous)

    assert mode_of(tmp_path / "data") == 0o750
    assert mode_of(tmp_path / "data" / "state") == 0o750


def test_ensure_private_dir_rejects_file(tmp_path):
    target = tmp_path / "data"
    target.write_text("")

    with pytest.raises(NotADirectoryError, match="not a directory"):
        ensure_private_dir(target)


# --- files ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("umask_022")
def test_create_private_file_new(tmp_path):
    path = create_private_file(tmp_path / "limiter.sqlite3")

    assert path.read_bytes() == b""
    assert mode_of(path) == 0o600


def test_create_private_file_exact_under_strict_umask(tmp_path, share_with_group):
    previous = os.umask(0o077)
    try:
        path = create_private_file(tmp_path / "limiter.sqlite3")
    finally:
        os.umask(previous)

    assert mode_of(path) == 0o640


def test_create_private_file_keeps_content(tmp_path):
    path = tmp_path / "limiter.sqlite3"
    path.write_bytes(b"existing")
    os.chmod(path, 0o644)

    create_private_file(path)

    assert path.read_bytes() == b"existing"
    assert mode_of(path) == 0o600


def test_pyarrow_keeps_mode_of_existing_file(tmp_path, umask_022):
    path = create_private_file(tmp_path / "table.parquet")

    pq.write_table(pa.table({"authy_id": [1, 2]}), path, compression="zstd")

    assert mode_of(path) == 0o600
    assert pq.read_table(path).num_rows == 2


@pytest.mark.usefixtures("umask_022", "share_with_group")
def test_parquet_temporary_file_private_before_write(tmp_path, monkeypatch):
    """The temporary file exists with file_mode() before pyarrow writes any byte into it."""
    seen: list[tuple[int, int]] = []
    real_write_table = pq.write_table

    def recording_write_table(table: pa.Table, where: object, **options: object) -> None:
        seen.append((mode_of(Path(where)), os.path.getsize(where)))
        real_write_table(table, where, **options)
        seen.append((mode_of(Path(where)), os.path.getsize(where)))

    monkeypatch.setattr(pq, "write_table", recording_write_table)
    path = tmp_path / "exports" / "authy_phone_numbers.parquet"

    write_parquet_atomically(pa.table({"authy_id": [1, 2]}), path)

    assert seen[0] == (0o640, 0)
    assert seen[1][0] == 0o640
    assert mode_of(path) == 0o640
    assert mode_of(path.parent) == 0o750
    assert os.listdir(path.parent) == [path.name]


@pytest.mark.usefixtures("umask_022")
def test_rejects_file_private(tmp_path):
    ids_file = tmp_path / "ids.csv"
    ids_file.write_text("authy_id\n1\n+14445556666\n")
    rejects = tmp_path / "data" / "state" / "authy_user_ids_rejected.csv"

    read_user_ids(ids_file, rejects_path=rejects)

    assert "+14445556666" in rejects.read_text()
    assert mode_of(tmp_path / "data") == 0o700
    assert mode_of(rejects.parent) == 0o700
    assert mode_of(rejects) == 0o600


# --- SQLite databases -------------------------------------------------------------------------


def kill_during_write(code: str, cwd: Path) -> None:
    """Run ``code`` in a child process with umask 0o022, then kill it with SIGKILL."""
    kill = "os.kill(os.getpid(), signal.SIGKILL)"
    script = f"import os, signal\nos.umask(0o022)\n{code}\n{kill}\n"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == -9, result.stderr


def test_ledger_wal_private_after_sigkill(tmp_path):
    code = (
        "from authy_assets.client.store import RequestLedger\n"
        "ledger = RequestLedger('state/authy_ledger.sqlite3', 'scope')\n"
        "request_id, _ = ledger.reserve(1, month='2025-01', quota=3, batch_key=None, run_id=None)\n"
        f"ledger.record_response(request_id, outcome='ok', status='ok', body={PHONE_BODY!r})\n"
    )

    kill_during_write(code, tmp_path)

    path = tmp_path / "state" / "authy_ledger.sqlite3"
    wal = path.with_name(path.name + "-wal")
    assert "444-555-6666".encode() in wal.read_bytes()
    assert mode_of(tmp_path / "state") == 0o700
    assert mode_of(path) == 0o600
    assert mode_of(wal) == 0o600
    assert mode_of(path.with_name(path.name + "-shm")) == 0o600


def test_ledger_fixes_leftover_wal_modes(tmp_path):
    # An older release created the database with SQLite's default mode and was killed.
    code = (
        "import sqlite3\n"
        "connection = sqlite3.connect('authy_ledger.sqlite3', isolation_level=None)\n"
        "connection.execute('PRAGMA journal_mode=WAL')\n"
        "connection.execute('CREATE TABLE leftover (body TEXT)')\n"
        f"connection.execute('INSERT INTO leftover VALUES (?)', ({PHONE_BODY!r},))\n"
    )
    kill_during_write(code, tmp_path)
    path = tmp_path / "authy_ledger.sqlite3"
    paths = [path, *(path.with_name(path.name + suffix) for suffix in SIDECARS)]
    assert [mode_of(file_path) for file_path in paths] == [0o644, 0o644, 0o644]

    with RequestLedger(path, "scope"):
        assert [mode_of(file_path) for file_path in paths] == [0o600, 0o600, 0o600]


@pytest.mark.usefixtures("umask_022")
def test_batch_database_private(tmp_path):
    path = tmp_path / "state" / "authy_batches.sqlite3"

    BatchAssignments(path, batch_size=2).assign([1, 2, 3])

    with sqlite_readers(path.parent):
        assert mode_of(path.parent) == 0o700
        assert mode_of(path) == 0o600
        for suffix in SIDECARS:
            assert mode_of(path.with_name(path.name + suffix)) == 0o600


@pytest.mark.usefixtures("umask_022", "share_with_group")
def test_create_private_database_existing_sidecars(tmp_path):
    path = tmp_path / "authy_rate_limiter.sqlite3"
    sidecars = [path.with_name(path.name + suffix) for suffix in ("-wal", "-journal")]
    for file_path in (path, *sidecars):
        file_path.write_bytes(b"")
        os.chmod(file_path, 0o600)

    create_private_database(path)

    assert mode_of(path) == 0o640
    assert mode_of(path.with_name(path.name + "-wal")) == 0o640
    assert mode_of(path.with_name(path.name + "-journal")) == 0o640
    assert not path.with_name(path.name + "-shm").exists()
