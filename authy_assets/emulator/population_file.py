"""Reader for population files: JSON Lines entries that replace generated users.

Each non-blank line is an object with an integer ``authy_id`` and one of:

- the user fields ``phone_number``, ``country_code``, ``e164`` and ``updated_at`` (strings,
  served as given without validation) and an optional boolean ``export_disabled``;
- ``"exists": false``, which deletes a generated user so that its requests get "not found";
- ``"raw": {"status": int, "headers": {name: value}, "body": text}``, a response replayed
  verbatim for that user after the key check and the limits. ``headers`` and ``body`` are
  optional.

Any line may also carry faults for its user, applied after the key check and both limits.
A line with an ``authy_id`` and faults only keeps the generated user, or "not found":

- ``"fault": kind``: every request of the user gets that fault;
- ``"faults": [kind or raw object, ...]``: the user's 1st, 2nd, ... request gets the 1st,
  2nd, ... item, and later requests get the normal response. A raw object has the shape of
  ``raw`` and is sent in place of the normal response to that one request.

The kinds are ``"500"`` (error 60000), ``"503_html"`` (503 with an HTML body), ``"drop"`` (the
connection closes without a response), ``"slow"`` (the normal response after ``slow_seconds``)
and ``"malformed_json"`` (a 200 with the first half of the normal body). A request counts
for the list when it passes the key check and both limits, over the emulator's lifetime, so
resetting the stats does not restart the list. The random fault shares of the emulator apply
only to requests that get no fault from the file.

Ids may lie beyond the generated population. Each id may appear on one line only. The file
is UTF-8 text and may start with a byte-order mark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from authy_assets.emulator.population import (
    FAULT_KINDS,
    PhoneUser,
    PopulationEntry,
    RawResponse,
    UserFault,
    UserFaults,
)

USER_FIELDS = ("phone_number", "country_code", "e164", "updated_at")
FAULT_KEYS = ("fault", "faults")
# aiohttp computes the framing of the replayed body itself.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})


class PopulationFileError(ValueError):
    """Error for a population file that cannot be read. The message names the file and line."""


@dataclass(frozen=True)
class PopulationFile:
    """Contents of a population file: entries that replace users, and faults, by authy_id."""

    entries: dict[int, PopulationEntry] = field(default_factory=dict)
    faults: dict[int, UserFaults] = field(default_factory=dict)


@dataclass(frozen=True)
class PopulationLine:
    """One parsed line. ``entry`` replaces the user only when ``replaces_user`` is true."""

    authy_id: int
    replaces_user: bool
    entry: PopulationEntry
    faults: UserFaults | None


def load_population_file(path: Path) -> PopulationFile:
    """Read ``path`` and return its entries and faults by authy_id.

    Raises PopulationFileError naming the file, the line number and the problem.
    """
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise PopulationFileError(
            f"cannot read population file {path}: {exc.strerror or exc}"
        ) from exc

    result = PopulationFile()
    seen: set[int] = set()
    for line_number, raw_line in enumerate(content.splitlines(), start=1):
        try:
            # utf-8-sig drops a byte-order mark, which some Windows editors write first.
            text = raw_line.decode("utf-8-sig" if line_number == 1 else "utf-8")
            if not text.strip():
                continue
            line = parse_population_line(text)
            if line.authy_id in seen:
                raise ValueError(f"authy_id {line.authy_id} already appears on an earlier line")
        except ValueError as exc:
            raise PopulationFileError(f"{path}, line {line_number}: {exc}") from exc
        seen.add(line.authy_id)
        if line.replaces_user:
            result.entries[line.authy_id] = line.entry
        if line.faults is not None:
            result.faults[line.authy_id] = line.faults
    return result


def parse_population_line(text: str) -> PopulationLine:
    """Parse one population file line. Raises ValueError describing what is invalid."""
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(item, dict):
        raise ValueError(f"expected a JSON object, got {type(item).__name__}")

    authy_id = item.get("authy_id")
    if isinstance(authy_id, bool) or not isinstance(authy_id, int) or authy_id < 1:
        raise ValueError(f"authy_id must be a positive integer, got {authy_id!r}")

    faults = _parse_faults(item)
    if "raw" in item:
        _reject_other_keys(item, {"authy_id", "raw", *FAULT_KEYS}, "an entry with 'raw'")
        return PopulationLine(authy_id, True, _parse_raw(item["raw"], "raw"), faults)
    if "exists" in item:
        if item["exists"] is not False:
            raise ValueError(f"exists may only be false, got {item['exists']!r}")
        _reject_other_keys(
            item, {"authy_id", "exists", *FAULT_KEYS}, "an entry with 'exists': false"
        )
        return PopulationLine(authy_id, True, None, faults)
    if faults is not None and set(item) <= {"authy_id", *FAULT_KEYS}:
        return PopulationLine(authy_id, False, None, faults)
    return PopulationLine(authy_id, True, _parse_user(authy_id, item), faults)


def _parse_faults(item: dict[str, Any]) -> UserFaults | None:
    if "fault" in item and "faults" in item:
        raise ValueError("use either fault (every request) or faults (a list), not both")
    if "fault" in item:
        return UserFaults(always=_parse_fault_kind(item["fault"], "fault"))
    if "faults" not in item:
        return None
    items = item["faults"]
    if not isinstance(items, list) or not items:
        raise ValueError(f"faults must be a non-empty list, got {items!r}")
    sequence: list[UserFault] = []
    for index, fault in enumerate(items):
        where = f"faults[{index}]"
        if isinstance(fault, dict):
            sequence.append(_parse_raw(fault, where))
        else:
            sequence.append(_parse_fault_kind(fault, where))
    return UserFaults(sequence=tuple(sequence))


def _parse_fault_kind(value: object, where: str) -> str:
    if not isinstance(value, str) or value not in FAULT_KINDS:
        raise ValueError(f"{where} must be one of {', '.join(FAULT_KINDS)}, got {value!r}")
    return value


def _parse_user(authy_id: int, item: dict[str, Any]) -> PhoneUser:
    _reject_other_keys(
        item, {"authy_id", "export_disabled", *USER_FIELDS, *FAULT_KEYS}, "a user entry"
    )
    missing = [name for name in USER_FIELDS if name not in item]
    if missing:
        raise ValueError(
            f"missing {', '.join(missing)}; a user entry needs {', '.join(USER_FIELDS)}, "
            "or else 'raw', 'exists': false, or only 'fault' or 'faults'"
        )
    for name in USER_FIELDS:
        if not isinstance(item[name], str):
            raise ValueError(f"{name} must be a string, got {type(item[name]).__name__}")
    export_disabled = item.get("export_disabled", False)
    if not isinstance(export_disabled, bool):
        raise ValueError(f"export_disabled must be true or false, got {export_disabled!r}")
    return PhoneUser(
        authy_id=authy_id,
        phone_number=item["phone_number"],
        country_code=item["country_code"],
        e164=item["e164"],
        updated_at=item["updated_at"],
        export_disabled=export_disabled,
    )


def _parse_raw(raw: object, where: str) -> RawResponse:
    """Parse a raw response object found at ``where`` ("raw" or "faults[i]")."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be an object, got {type(raw).__name__}")
    _reject_other_keys(raw, {"status", "headers", "body"}, where)

    status = raw.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"{where}.status must be an integer from 100 to 599, got {status!r}")

    headers = raw.get("headers", {})
    if not isinstance(headers, dict):
        raise ValueError(f"{where}.headers must be an object, got {type(headers).__name__}")
    header_items = []
    for name, value in headers.items():
        if not isinstance(value, str):
            raise ValueError(
                f"{where}.headers[{name!r}] must be a string, got {type(value).__name__}"
            )
        if any(char in name + value for char in "\r\n\0") or not name.strip():
            raise ValueError(f"{where}.headers[{name!r}] has an invalid name or value")
        if name.lower() not in FRAMING_HEADERS:
            header_items.append((name, value))

    body = raw.get("body", "")
    if not isinstance(body, str):
        raise ValueError(f"{where}.body must be a string, got {type(body).__name__}")
    return RawResponse(status=status, headers=tuple(header_items), body=body)


def _reject_other_keys(item: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise ValueError(f"unexpected keys for {what}: {', '.join(unknown)}")
