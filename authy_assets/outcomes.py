"""Reduce a batch's request log to one outcome per user."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from authy_assets.phones import FINAL_STATUSES, ExportStatus


@dataclass(frozen=True)
class UserOutcome:
    """The response that decides a user's row, and the status the row gets."""

    authy_id: int
    status: str
    error_code: str | None
    http_status: int | None
    body: str | None
    fetched_at: datetime | None
    requests_this_month: int


def user_outcomes(
    authy_ids: Sequence[int], requests: Iterable[dict], *, monthly_quota: int
) -> list[UserOutcome]:
    """Return one outcome per id in ``authy_ids``, in that order.

    ``requests`` are raw-response rows, in any order. The newest final response decides, else
    the newest counted request. A user whose deciding response is not final and who has spent
    the monthly quota gets ``quota_exhausted``, because no run can request that user again
    before next month. A user with no counted request gets ``not_requested``.
    """
    by_user: dict[int, list[dict]] = {}
    for request in requests:
        by_user.setdefault(request["authy_id"], []).append(request)

    outcomes = []
    for authy_id in authy_ids:
        history = sorted(by_user.get(authy_id, []), key=lambda row: (row["attempt"], _time(row)))
        counted = [row for row in history if row.get("counted", True)]
        if not counted:
            outcomes.append(
                UserOutcome(authy_id, ExportStatus.not_requested, None, None, None, None, 0)
            )
            continue
        # Runs never request a user again after a final response, but two runs started at the
        # same moment can both send one. The final response then wins over the other's failure.
        finals = [row for row in counted if row.get("status") in FINAL_STATUSES]
        newest = finals[-1] if finals else counted[-1]
        status = newest.get("status") or ExportStatus.no_answer
        if status not in FINAL_STATUSES and len(counted) >= monthly_quota:
            status = ExportStatus.quota_exhausted
        outcomes.append(
            UserOutcome(
                authy_id=authy_id,
                status=str(status),
                error_code=newest.get("error_code"),
                http_status=newest.get("http_status"),
                body=newest.get("body"),
                fetched_at=newest.get("received_at") or newest.get("requested_at"),
                requests_this_month=len(counted),
            )
        )
    return outcomes


def _time(row: dict) -> datetime | float:
    return row.get("requested_at") or 0.0
