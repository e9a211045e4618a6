"""File permissions for data that holds phone numbers or quota state.

Files are readable by their owner only unless ``AUTHY_SHARE_WITH_GROUP`` is set to ``1``, which
opens them to the owner's group (for analysts who read the export).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa


def _share_with_group() -> bool:
    value = os.environ.get("AUTHY_SHARE_WITH_GROUP", "0").strip()
    if value not in {"0", "1"}:
        raise ValueError(f"AUTHY_SHARE_WITH_GROUP must be 0 or 1, got {value!r}")
    return value == "1"


def file_mode() -> int:
    return 0o640 if _share_with_group() else 0o600


def dir_mode() -> int:
    return 0o750 if _share_with_group() else 0o700


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing; a directory this creates gets ``dir_mode()``."""
    path = Path(path)
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, dir_mode())
    return path


def make_private(path: Path) -> None:
    os.chmod(path, file_mode())


def write_parquet_atomically(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` so that a reader sees the old file or the new one, never half.

    The data goes to a temporary file in the same directory, is flushed to disk, and then
    replaces ``path`` with ``os.replace``, which is atomic on POSIX file systems.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    ensure_private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, temporary, compression="zstd")
        make_private(temporary)
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
