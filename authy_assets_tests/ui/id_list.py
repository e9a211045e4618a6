"""The id list and emulator population of the UI test, with the results they must produce.

Users are assigned to batches of BATCH_SIZE in the order of the file, so the list is written
batch by batch: each batch has known users, some of them export-disabled, and unknown users.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

BATCH_SIZE = 100


@dataclass(frozen=True)
class BatchPlan:
    """The users of one batch and how many of each kind the emulator returns."""

    key: str
    known: tuple[int, ...]
    unknown: tuple[int, ...]
    export_disabled: tuple[int, ...]

    @property
    def ids(self) -> list[int]:
        return [*self.known, *self.unknown]


# Known users exist in the emulator's generated population of 2,200; ids from 900001 do not.
BATCHES = (
    BatchPlan("batch-000001", tuple(range(1, 97)), (900001, 900002, 900003, 900004), (7, 42)),
    BatchPlan("batch-000002", tuple(range(97, 193)), (900005, 900006, 900007, 900008), (101, 150)),
    BatchPlan("batch-000003", tuple(range(193, 241)), (900009, 900010), (200, 230)),
)
# Lines after the batches that add no user: a duplicate and two rejected lines.
EXTRA_LINES = ("7", "12.0", "n/a")
DISTINCT_VALID_IDS = sum(len(batch.ids) for batch in BATCHES)

# Ids appended while authy_user_ids_sensor runs; a later call never fills an earlier batch.
APPENDED_IDS = tuple(range(241, 261))
APPENDED_BATCH_KEY = "batch-000004"


def write_id_list(path: Path) -> None:
    """Write the CSV id list: a header, every batch's ids in order, then EXTRA_LINES."""
    lines = ["authy_id"]
    for batch in BATCHES:
        lines.extend(str(authy_id) for authy_id in batch.ids)
    lines.extend(EXTRA_LINES)
    path.write_text("\n".join(lines) + "\n")


def append_ids(path: Path) -> None:
    with open(path, "a") as id_list:
        id_list.write("".join(f"{authy_id}\n" for authy_id in APPENDED_IDS))


def write_population(path: Path) -> None:
    """Write the emulator's population file, which makes the planned users export-disabled."""
    entries = [
        {
            "authy_id": authy_id,
            "phone_number": "201-555-0123",
            "country_code": "1",
            "e164": "+12015550123",
            "updated_at": "2024-05-01T10:00:00Z",
            "export_disabled": True,
        }
        for batch in BATCHES
        for authy_id in batch.export_disabled
    ]
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
