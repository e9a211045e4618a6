"""Read-only Dagster GraphQL queries that the UI test waits on where the page has no stable selector.

Every user action of the test goes through the browser; these queries only read state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

LOCATION = "authy_assets"
# The repository name Dagster gives to a code location built from one Definitions object.
REPOSITORY = "__repository__"
ACTIVE_RUN_STATUSES = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]
POLL_SECONDS = 1.0

T = TypeVar("T")

RUNS_QUERY = """
query Runs($statuses: [RunStatus!]) {
  runsOrError(filter: {statuses: $statuses}) {
    __typename
    ... on Runs { results { runId jobName status tags { key value } } }
    ... on PythonError { message }
  }
}
"""
RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status }
    ... on PythonError { message }
  }
}
"""
BACKFILL_QUERY = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { status }
    ... on PythonError { message }
  }
}
"""
MATERIALIZATION_QUERY = """
query Materialization($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    __typename
    ... on Asset { assetMaterializations(limit: 1) { runId timestamp partition } }
  }
}
"""
PARTITION_KEYS_QUERY = """
query PartitionKeys($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    __typename
    ... on AssetNode { partitionKeys }
  }
}
"""
SENSOR_QUERY = """
query Sensor($name: String!) {
  sensorOrError(sensorSelector: {
    repositoryLocationName: "%s", repositoryName: "%s", sensorName: $name
  }) {
    __typename
    ... on Sensor { sensorState { status ticks(limit: 20) { status timestamp runIds } } }
  }
}
""" % (LOCATION, REPOSITORY)
SCHEDULE_QUERY = """
query Schedule($name: String!) {
  scheduleOrError(scheduleSelector: {
    repositoryLocationName: "%s", repositoryName: "%s", scheduleName: $name
  }) {
    __typename
    ... on Schedule { scheduleState { status } }
  }
}
""" % (LOCATION, REPOSITORY)


class DagsterGraphql:
    """Client of one webserver's /graphql endpoint."""

    def __init__(self, base_url: str) -> None:
        # trust_env=False keeps proxy settings from routing loopback requests elsewhere.
        self._client = httpx.Client(base_url=base_url, trust_env=False, timeout=30.0)

    def close(self) -> None:
        self._client.close()

    def query(self, document: str, **variables: Any) -> dict[str, Any]:
        """Send one query and return its ``data``; raise AssertionError on GraphQL errors."""
        response = self._client.post("/graphql", json={"query": document, "variables": variables})
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, f"GraphQL errors: {body['errors']}"
        return body["data"]

    def runs(self, statuses: list[str]) -> list[dict[str, Any]]:
        result = self.query(RUNS_QUERY, statuses=statuses)["runsOrError"]
        assert result["__typename"] == "Runs", result
        return result["results"]

    def run_status(self, run_id: str) -> str:
        result = self.query(RUN_QUERY, runId=run_id)["runOrError"]
        assert result["__typename"] == "Run", result
        return result["status"]

    def backfill_status(self, backfill_id: str) -> str:
        result = self.query(BACKFILL_QUERY, backfillId=backfill_id)["partitionBackfillOrError"]
        assert result["__typename"] == "PartitionBackfill", result
        return result["status"]

    def latest_materialization(self, asset_name: str) -> dict[str, Any] | None:
        """Return runId, timestamp (ms since the epoch, a string) and partition, or None."""
        result = self.query(MATERIALIZATION_QUERY, path=[asset_name])["assetOrError"]
        if result["__typename"] != "Asset":
            return None
        events = result["assetMaterializations"]
        return events[0] if events else None

    def partition_keys(self, asset_name: str) -> list[str]:
        result = self.query(PARTITION_KEYS_QUERY, path=[asset_name])["assetNodeOrError"]
        assert result["__typename"] == "AssetNode", result
        return result["partitionKeys"]

    def sensor_state(self, name: str) -> dict[str, Any]:
        """Return the sensor's status and its newest ticks, newest first."""
        result = self.query(SENSOR_QUERY, name=name)["sensorOrError"]
        assert result["__typename"] == "Sensor", result
        return result["sensorState"]

    def schedule_status(self, name: str) -> str:
        result = self.query(SCHEDULE_QUERY, name=name)["scheduleOrError"]
        assert result["__typename"] == "Schedule", result
        return result["scheduleState"]["status"]


def wait_for(
    description: str,
    probe: Callable[[], T | None],
    timeout_seconds: float,
    *,
    fail_fast: Callable[[], str | None] = lambda: None,
) -> T:
    """Call ``probe`` until it returns something other than None or False, and return that.

    ``fail_fast`` returns a reason to give up early, such as a failed run. Raises AssertionError
    naming ``description`` on timeout or on such a reason.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        reason = fail_fast()
        if reason:
            raise AssertionError(f"gave up waiting for {description}: {reason}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_seconds:.0f} s waiting for {description}")
        time.sleep(POLL_SECONDS)
