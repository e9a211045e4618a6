"""File permissions for data that contains phone numbers or quota state.

Files are readable by their owner only unless ``AUTHY_SHARE_WITH_GROUP`` is set to ``1``, which
opens them to the owner's group (for analysts who read the export). Files and directories are
created with their final mode, so no other user can open one between its creation and a chmod.
The umask can only narrow a mode at creation, and the functions here then set the exact mode.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

SHARE_WITH_GROUP_VARIABLE = "AUTHY_SHARE_WITH_GROUP"
# Files that SQLite keeps next to a database in WAL mode (-wal, -shm) or rollback mode (-journal).
SQLITE_SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")


def _share_with_group() -> bool:
    value = os.environ.get(SHARE_WITH_GROUP_VARIABLE, "").strip()
    if value not in {"", "0", "1"}:
        raise ValueError(
            f"invalid {SHARE_WITH_GROUP_VARIABLE} value {value!r}. Set it to 1 to let the"
            " owner's group read the data files, or to 0 (the default) to keep them owner-only."
        )
    return value == "1"


def file_mode() -> int:
    """Return the mode of data files: 0o600, or 0o640 when AUTHY_SHARE_WITH_GROUP is 1."""
    return 0o640 if _share_with_group() else 0o600


def dir_mode() -> int:
    """Return the mode of data directories: 0o700, or 0o750 when AUTHY_SHARE_WITH_GROUP is 1."""
    return 0o750 if _share_with_group() else 0o700


def _set_mode_if_owned(path: Path, mode: int) -> None:
    """Give ``path`` exactly ``mode`` if this process owns it. Other users' paths keep theirs."""
    status = os.stat(path)
    if status.st_uid == os.geteuid() and stat.S_IMODE(status.st_mode) != mode:
        os.chmod(path, mode)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and each missing parent with ``dir_mode()``, and return ``path``.

    ``path`` gets ``dir_mode()`` even when it exists already, if this process owns it, so that
    a change of AUTHY_SHARE_WITH_GROUP reaches existing directories. Parents that exist keep
    their mode. Raises NotADirectoryError when ``path`` exists and is not a directory.
    """
    path = Path(path)
    mode = dir_mode()

    missing: list[Path] = []
    ancestor = path
    while not ancestor.exists() and ancestor.parent != ancestor:
        missing.append(ancestor)
        ancestor = ancestor.parent

    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            pass  # Another process created it in the meantime.

    if not path.is_dir():
        raise NotADirectoryError(
            f"{path} exists but is not a directory, so move it away or pick another path"
        )
    for directory in [*reversed(missing[1:]), path]:
        _set_mode_if_owned(directory, mode)
    return path


def create_private_file(path: Path) -> Path:
    """Create ``path`` as an empty file with ``file_mode()`` unless it exists, and return it.

    An existing file that this process owns gets ``file_mode()`` too, and keeps its content.
    The parent directory must exist.
    """
    path = Path(path)
    mode = file_mode()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except FileExistsError:
        _set_mode_if_owned(path, mode)
        return path
    try:
        # The umask may have narrowed the mode that os.open applied.
        os.fchmod(descriptor, mode)
    finally:
        os.close(descriptor)
    return path


def create_private_database(path: Path) -> Path:
    """Create a SQLite database file so that it and its sidecar files get ``file_mode()``.

    Call it before ``sqlite3.connect``. SQLite creates a database file with mode 0o644 minus the
    umask. Its unix VFS (os_unix.c) creates the -wal, -shm and -journal files with the mode of
    the database file instead, even under a stricter umask (checked with SQLite 3.40.1). So this
    creates the database file first. Sidecar files left by a killed process
    keep their old mode when SQLite reopens them, so each that exists gets ``file_mode()`` here.
    """
    path = Path(path)
    ensure_private_dir(path.parent)
    create_private_file(path)
    mode = file_mode()
    for suffix in SQLITE_SIDECAR_SUFFIXES:
        try:
            _set_mode_if_owned(path.with_name(path.name + suffix), mode)
        except FileNotFoundError:
            pass
    return path


def make_private(path: Path) -> None:
    os.chmod(path, file_mode())


def write_atomically(path: Path, write_temporary: Callable[[Path], None]) -> None:
    """Write a file so that a reader sees the old file at ``path`` or the new one, never half.

    ``write_temporary`` writes the content to a temporary file in the same directory, which
    is created with ``file_mode()`` before any data is written. The file is then flushed to
    disk and replaces ``path`` with ``os.replace``, which is atomic on POSIX file systems.
    """
    path = Path(path)
    ensure_private_dir(path.parent)
    # mkstemp creates the file with mode 0o600, which is never wider than file_mode().
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        try:
            os.fchmod(descriptor, file_mode())
        finally:
            os.close(descriptor)
        # Writers open the existing file with O_TRUNC, which keeps its mode (checked with
        # pyarrow 26.0.1 in the tests).
        write_temporary(temporary)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_parquet_atomically(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` as zstd-compressed Parquet with ``write_atomically``."""
    import pyarrow.parquet as pq

    write_atomically(path, lambda temporary: pq.write_table(table, temporary, compression="zstd"))


def write_bytes_atomically(data: bytes, path: Path) -> None:
    """Write ``data`` to ``path`` with ``write_atomically``."""
    write_atomically(path, lambda temporary: temporary.write_bytes(data))
