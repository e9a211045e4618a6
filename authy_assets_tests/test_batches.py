"""Tests for the stable assignment of users to batches (authy_assets.batches)."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from authy_assets import batches as batches_module
from authy_assets.batches import (
    INT64_MAX,
    BatchAssignmentError,
    BatchAssignments,
    UnknownBatchError,
    batch_key,
    batch_number,
)


def _membership(assignments: BatchAssignments) -> dict[str, list[int]]:
    return {key: assignments.members(key) for key in assignments.batch_keys()}


def test_batch_key_format() -> None:
    assert batch_key(1) == "batch-000001"
    assert batch_key(999_999) == "batch-999999"
    assert batch_number("batch-000042") == 42
    assert sorted([batch_key(10), batch_key(9), batch_key(100)]) == [
        batch_key(9),
        batch_key(10),
        batch_key(100),
    ]


@pytest.mark.parametrize("key", ["batch-1", "batch-000000", "Batch-000001", "batch-0000001", ""])
def test_batch_key_invalid(key: str) -> None:
    with pytest.raises(BatchAssignmentError, match="invalid batch key"):
        batch_number(key)


def test_assign_partial_last_batch(tmp_path: Path) -> None:
    assignments = BatchAssignments(tmp_path / "batches.sqlite3", batch_size=4)

    result = assignments.assign(list(range(1, 11)))

    assert result.new_ids == 10
    assert result.new_batch_keys == ["batch-000001", "batch-000002", "batch-000003"]
    assert result.all_batch_keys == result.new_batch_keys
    assert _membership(assignments) == {
        "batch-000001": [1, 2, 3, 4],
        "batch-000002": [5, 6, 7, 8],
        "batch-000003": [9, 10],
    }


def test_assign_follows_given_order(tmp_path: Path) -> None:
    assignments = BatchAssignments(tmp_path / "batches.sqlite3", batch_size=2)

    assignments.assign([30, 10, 30, 20])

    assert _membership(assignments) == {"batch-000001": [10, 30], "batch-000002": [20]}


def test_appended_ids_fill_new_batches_only(tmp_path: Path) -> None:
    assignments = BatchAssignments(tmp_path / "batches.sqlite3", batch_size=4)
    assignments.assign(list(range(1, 11)))
    before = _membership(assignments)

    result = assignments.assign(list(range(1, 16)))

    after = _membership(assignments)
    assert result.new_ids == 5
    assert result.new_batch_keys == ["batch-000004", "batch-000005"]
    assert result.all_batch_keys == [batch_key(n) for n in range(1, 6)]
    for key, members in before.items():
        assert after[key] == members
    assert after["batch-000003"] == [9, 10]
    assert after["batch-000004"] == [11, 12, 13, 14]
    assert after["batch-000005"] == [15]


def test_reordered_or_shorter_list_changes_nothing(tmp_path: Path) -> None:
    assignments = BatchAssignments(tmp_path / "batches.sqlite3", batch_size=3)
    assignments.assign(list(range(1, 8)))
    before = _membership(assignments)

    reordered = assignments.assign(list(range(7, 0, -1)))
    shorter = assignments.assign([2, 5])

    assert reordered.new_ids == 0
    assert reordered.new_batch_keys == []
    assert shorter.new_ids == 0
    assert _membership(assignments) == before


def test_assign_is_deterministic(tmp_path: Path) -> None:
    ids = np.random.default_rng(7).choice(10**12, size=5_000, replace=False) + 1
    first = BatchAssignments(tmp_path / "one.sqlite3", batch_size=300)
    second = BatchAssignments(tmp_path / "two.sqlite3", batch_size=300)

    first.assign(ids[:3_000])
    first.assign(ids)
    second.assign(ids[:3_000])
    second.assign(ids)

    pd.testing.assert_frame_equal(first.assignment_frame(ids), second.assignment_frame(ids))


def test_state_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "batches.sqlite3"
    BatchAssignments(path, batch_size=2).assign([1, 2, 3])

    reopened = BatchAssignments(path, batch_size=2)

    assert _membership(reopened) == {"batch-000001": [1, 2], "batch-000002": [3]}


def test_batch_size_change_applies_to_new_batches(tmp_path: Path) -> None:
    path = tmp_path / "batches.sqlite3"
    BatchAssignments(path, batch_size=2).assign([1, 2, 3])

    larger = BatchAssignments(path, batch_size=3)
    larger.assign(list(range(1, 11)))

    assert _membership(larger) == {
        "batch-000001": [1, 2],
        "batch-000002": [3],
        "batch-000003": [4, 5, 6],
        "batch-000004": [7, 8, 9],
        "batch-000005": [10],
    }


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True, "3", None])
def test_batch_size_validation(tmp_path: Path, batch_size: object) -> None:
    with pytest.raises(BatchAssignmentError, match="batch_size must be an integer >= 1"):
        BatchAssignments(
            tmp_path / "batches.sqlite3",
            batch_size=batch_size,  # type: ignore[arg-type]
        )


def test_batch_size_numpy_integer(tmp_path: Path) -> None:
    assignments = BatchAssignments(tmp_path / "batches.sqlite3", batch_size=np.int64(2))

    assert assignments.assign([1, 2, 3]).new_batch_keys == ["batch-000001", "batch-000002"]


@pytest.mark.parametrize(
    "ids",
    [
        [1, 0],
        [1, -5],
        [1, INT64_MAX + 1],
        np.array([1.0, 2.0]),
        np.array([True, False]),
        [1, "2"],
        np.array([[1, 2]]),
        np.array([INT64_MAX + 1], dtype=np.uint64),
    ],
    ids=["zero", "negative", "past int64", "floats", "bools", "string", "2d", "uint64"],
)
def test_invalid_ids_write_nothing(tmp_path: Path, ids: object) -> None:
    assignments = BatchAssignments(tmp_path / "batches.sqlite3", batch_size=2)

    with pytest.raises(BatchAssignmentError):
        assignments.assign(ids)  # type: ignore[arg-type]

    assert assignments.batch_keys() == []


def test_int64_max_and_uint64_accepted(tmp_path: Path) -> None:
    assignments = BatchAssignments(tmp_path / "batches.sqlite3", batch_size=5)

    assignments.assign(np.array([INT64_MAX, 1], dtype=np.uint64))

    assert assignments.members("batch-000001") == [1, INT64_MAX]


def test_empty_assign(tmp_path: Path) -> None:
    assignments = BatchAssignments(tmp_path / "batches.sqlite3", batch_size=2)

    result = assignments.assign([])

    assert result.new_ids == 0
    assert result.new_batch_keys == []
    assert result.all_batch_keys == []


def test_too_many_batches_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches_module, "MAX_BATCHES", 3)
    assignments = BatchAssignments(tmp_path / "batches.sqlite3", batch_size=2)
    assignments.assign([1, 2, 3, 4])

    with pytest.raises(BatchAssignmentError, match="use a larger batch_size"):
        assignments.assign([1, 2, 3, 4, 5, 6, 7])

    assert assignments.batch_keys() == ["batch-000001", "batch-000002"]
    assert assignments.assignment_frame([5])["batch_key"].isna().all()


def test_members_unknown_batch(tmp_path: Path) -> None:
    assignments = BatchAssignments(tmp_path / "batches.sqlite3", batch_size=2)
    assignments.assign([1])

    with pytest.raises(UnknownBatchError, match="batch-000002"):
        assignments.members("batch-000002")
    with pytest.raises(BatchAssignmentError, match="invalid batch key"):
        assignments.members("b2")


def test_assignment_frame(tmp_path: Path) -> None:
    assignments = BatchAssignments(tmp_path / "batches.sqlite3", batch_size=2)
    assignments.assign([50, 40, 30])

    frame = assignments.assignment_frame([30, 99, 50, 40, 30])

    assert list(frame.columns) == ["authy_id", "batch_key"]
    assert frame["authy_id"].dtype == np.int64
    assert frame["batch_key"].dtype == pd.StringDtype()
    assert frame["authy_id"].tolist() == [30, 99, 50, 40, 30]
    assert frame["batch_key"].tolist() == [
        "batch-000002",
        pd.NA,
        "batch-000001",
        "batch-000001",
        "batch-000002",
    ]


def test_assignment_frame_empty_database(tmp_path: Path) -> None:
    assignments = BatchAssignments(tmp_path / "batches.sqlite3", batch_size=2)

    frame = assignments.assignment_frame([1, 2])

    assert frame["batch_key"].isna().tolist() == [True, True]


def test_database_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "state" / "batches.sqlite3"
    BatchAssignments(path, batch_size=2)

    with sqlite3.connect(path) as connection:
        (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_schema_version_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "batches.sqlite3"
    BatchAssignments(path, batch_size=2)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    connection.close()

    with pytest.raises(BatchAssignmentError, match="schema version 99"):
        BatchAssignments(path, batch_size=2)


def test_million_ids(tmp_path: Path) -> None:
    count = 1_000_000
    assignments = BatchAssignments(tmp_path / "batches.sqlite3", batch_size=1_000)
    ids = np.arange(count, 0, -1, dtype=np.int64)

    first = assignments.assign(ids)
    second = assignments.assign(np.concatenate([ids, np.array([count + 2, count + 1])]))

    assert first.new_ids == count
    assert len(first.new_batch_keys) == 1_000
    assert second.new_ids == 2
    assert second.new_batch_keys == ["batch-001001"]
    assert assignments.members("batch-000001") == list(range(count - 999, count + 1))
    assert assignments.members("batch-001001") == [count + 1, count + 2]
    frame = assignments.assignment_frame(ids)
    assert frame["batch_key"].notna().all()
    assert frame["batch_key"].value_counts().max() == 1_000


def _assign_in_process(db_path: str, batch_size: int, ids: list[int], barrier: object) -> None:
    assignments = BatchAssignments(Path(db_path), batch_size)
    barrier.wait()  # type: ignore[attr-defined]
    assignments.assign(ids)


def _serial_assignment(
    path: Path, batch_size: int, first: list[int], second: list[int]
) -> pd.DataFrame:
    assignments = BatchAssignments(path, batch_size)
    assignments.assign(first)
    assignments.assign(second)
    return assignments.assignment_frame(sorted(set(first) | set(second)))


def test_concurrent_processes_assign_consistently(tmp_path: Path) -> None:
    batch_size = 700
    ids_a = list(range(1, 30_001))
    ids_b = list(range(20_001, 50_001))
    union = sorted(set(ids_a) | set(ids_b))
    a_then_b = _serial_assignment(tmp_path / "ab.sqlite3", batch_size, ids_a, ids_b)
    b_then_a = _serial_assignment(tmp_path / "ba.sqlite3", batch_size, ids_b, ids_a)

    for round_number in range(3):
        path = tmp_path / f"shared-{round_number}.sqlite3"
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(2)
        workers = [
            context.Process(
                target=_assign_in_process, args=(str(path), batch_size, ids, barrier)
            )
            for ids in (ids_a, ids_b)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)

        assert [worker.exitcode for worker in workers] == [0, 0]
        assignments = BatchAssignments(path, batch_size)
        frame = assignments.assignment_frame(union)
        assert frame["batch_key"].notna().all()
        sizes = frame["batch_key"].value_counts()
        assert sizes.max() <= batch_size
        assert sum(len(assignments.members(key)) for key in assignments.batch_keys()) == len(union)
        matches_a_first = frame.equals(a_then_b)
        matches_b_first = frame.equals(b_then_a)
        assert matches_a_first or matches_b_first
