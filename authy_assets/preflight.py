"""One request that tests the API key before ``authy-assets run`` starts its batch runs.

Each batch run sends its first request alone, so with a wrong key every batch run that starts
spends one rejected request. A single request before them stops the run after one.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from authy_assets.client.fetch import fetch_users
from authy_assets.client.settings import FetchSettings
from authy_assets.client.store import RequestLedger, month_of
from authy_assets.phones import FINAL_STATUSES


# Run tag naming the key-test request of `authy-assets run`, whose attempt the batch run counts.
KEY_TEST_TAG = "authy_assets/key_test_id"


def current_batch_keys(user_ids_file: Path) -> list[str]:
    """Return the sorted batch keys of the id list that ``authy_user_ids`` last wrote.

    The instance may hold batch partitions of other id lists (another AUTHY_DATA_DIR on the
    same DAGSTER_HOME), so the partitions registered in Dagster are not used.
    """
    table = pq.read_table(user_ids_file, columns=["batch_key"])
    return sorted(pc.unique(table.column("batch_key")).to_pylist())


def first_user_to_fetch(
    settings: FetchSettings, user_ids_file: Path
) -> tuple[str, int] | None:
    """Return the batch key and id of the first user a batch run would send a request for.

    Batches are taken in key order and users in id order, as the fetch loop takes them. Like
    the fetch loop, this skips users with a final response this month and users who have spent
    the monthly quota. Returns None when no user of the id list needs a request.
    """
    table = pq.read_table(user_ids_file, columns=["batch_key", "authy_id"])
    table = table.sort_by([("batch_key", "ascending"), ("authy_id", "ascending")])
    pairs = zip(table.column("batch_key").to_pylist(), table.column("authy_id").to_pylist())

    month = month_of(time.time())
    with RequestLedger(settings.ledger_path, settings.api_scope) as ledger:
        for batch_key, members in itertools.groupby(pairs, key=lambda pair: pair[0]):
            authy_ids = [authy_id for _, authy_id in members]
            latest = ledger.latest_statuses(authy_ids, month=month)
            spent = ledger.spent(authy_ids, month=month)
            for authy_id in authy_ids:
                if latest.get(authy_id) in FINAL_STATUSES:
                    continue
                if spent.get(authy_id, 0) >= settings.monthly_quota:
                    continue
                return batch_key, authy_id
    return None


def send_key_test_request(
    settings: FetchSettings, batch_key: str, authy_id: int, *, key_test_id: str
) -> None:
    """Request one user's phone number alone, through the fetch loop and its ledger.

    The request is stored in the ledger under the run id ``key_test_id``. A batch run does not
    request a user with a final response again, and counts the key test among the user's
    max_attempts_per_run when its run has the tag KEY_TEST_TAG set to ``key_test_id``, so the
    test costs no extra request. Raises AuthyUnauthorizedError when the API rejects the key,
    and AuthyUnreachableError when no connection to the API can be opened.
    """
    single_attempt = dataclasses.replace(settings, max_attempts_per_run=1)
    fetch_users(single_attempt, [authy_id], batch_key=batch_key, run_id=key_test_id)

