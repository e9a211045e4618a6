"""Reader for population files: JSON Lines entries that replace generated users.

Each non-blank line is an object with an integer ``authy_id`` and one of:

- the user fields ``phone_number``, ``country_code``, ``e164`` and ``updated_at`` (strings,
  served as given without validation) and an optional boolean ``export_disabled``;
- ``"exists": false``, which deletes a generated user so that its requests get "not found";
- ``"raw": {"status": int, "headers": {name: value}, "body": text}``, a response replayed
  verbatim for that user after the key check and the limits. ``headers`` and ``body`` are
  optional.

Ids may lie beyond the generated population. Each id may appear on one line only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from authy_assets.emulator.population import PhoneUser, PopulationEntry, RawResponse

USER_FIELDS = ("phone_number", "country_code", "e164", "updated_at")
# aiohttp computes the framing of the replayed body itself.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})


class PopulationFileError(ValueError):
    """Error for a population file that cannot be read. The message names the file and line."""


def load_population_file(path: Path) -> dict[int, PopulationEntry]:
    """Read ``path`` and return its entries by authy_id.

    Raises PopulationFileError naming the file, the line number and the problem.
    """
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise PopulationFileError(
            f"cannot read population file {path}: {exc.strerror or exc}"
        ) from exc

    entries: dict[int, PopulationEntry] = {}
    for line_number, raw_line in enumerate(content.splitlines(), start=1):
        try:
            text = raw_line.decode("utf-8")
            if not text.strip():
                continue
            authy_id, entry = parse_population_line(text)
            if authy_id in entries:
                raise ValueError(f"authy_id {authy_id} already appears on an earlier line")
        except ValueError as exc:
            raise PopulationFileError(f"{path}, line {line_number}: {exc}") from exc
        entries[authy_id] = entry
    return entries


def parse_population_line(text: str) -> tuple[int, PopulationEntry]:
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

    if "raw" in item:
        _reject_other_keys(item, {"authy_id", "raw"}, "an entry with 'raw'")
        return authy_id, _parse_raw(item["raw"])
    if "exists" in item:
        if item["exists"] is not False:
            raise ValueError(f"exists may only be false, got {item['exists']!r}")
        _reject_other_keys(item, {"authy_id", "exists"}, "an entry with 'exists': false")
        return authy_id, None
    return authy_id, _parse_user(authy_id, item)


def _parse_user(authy_id: int, item: dict[str, Any]) -> PhoneUser:
    _reject_other_keys(item, {"authy_id", "export_disabled", *USER_FIELDS}, "a user entry")
    missing = [name for name in USER_FIELDS if name not in item]
    if missing:
        raise ValueError(
            f"missing {', '.join(missing)}; a user entry needs {', '.join(USER_FIELDS)}, "
            "or else 'raw' or 'exists': false"
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


def _parse_raw(raw: object) -> RawResponse:
    if not isinstance(raw, dict):
        raise ValueError(f"raw must be an object, got {type(raw).__name__}")
    _reject_other_keys(raw, {"status", "headers", "body"}, "raw")

    status = raw.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"raw.status must be an integer from 100 to 599, got {status!r}")

    headers = raw.get("headers", {})
    if not isinstance(headers, dict):
        raise ValueError(f"raw.headers must be an object, got {type(headers).__name__}")
    header_items = []
    for name, value in headers.items():
        if not isinstance(value, str):
            raise ValueError(f"raw.headers[{name!r}] must be a string, got {type(value).__name__}")
        if any(char in name + value for char in "\r\n\0") or not name.strip():
            raise ValueError(f"raw.headers[{name!r}] has an invalid name or value")
        if name.lower() not in FRAMING_HEADERS:
            header_items.append((name, value))

    body = raw.get("body", "")
    if not isinstance(body, str):
        raise ValueError(f"raw.body must be a string, got {type(body).__name__}")
    return RawResponse(status=status, headers=tuple(header_items), body=body)


def _reject_other_keys(item: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise ValueError(f"unexpected keys for {what}: {', '.join(unknown)}")
