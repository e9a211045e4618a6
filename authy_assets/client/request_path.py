"""The request path of the phone-number export endpoint, built only from a checked integer id."""

from __future__ import annotations

import operator

from authy_assets.masking import mask_text

MAX_AUTHY_ID = 2**63 - 1


def checked_authy_id(value: object) -> int:
    """Return ``value`` as a plain int if it is a whole number from 1 to 2**63 - 1.

    Accepts int and anything with a valid ``__index__``, such as numpy integers. Raises
    ValueError for bool, float, str and every other value, so no text can reach the path.
    """
    if isinstance(value, bool):
        raise ValueError("authy_id True or False is not an integer")
    try:
        # operator.index, unlike calling __index__, rejects an __index__ that returns no int.
        number = int(operator.index(value))  # type: ignore[arg-type]
    except TypeError:
        # The value is masked: an id column that contains phone numbers must not put them in logs.
        masked = mask_text(repr(value))
        raise ValueError(
            f"authy_id {masked} of type {type(value).__name__} is not an integer"
        ) from None
    if not 1 <= number <= MAX_AUTHY_ID:
        raise ValueError(f"authy_id {mask_text(str(number))} is outside 1..2**63-1")
    return number


def phone_number_path(authy_id: object) -> str:
    """Return ``/protected/json/users/<id>/phone_number`` for a checked ``authy_id``.

    Raises ValueError as :func:`checked_authy_id` does.
    """
    return f"/protected/json/users/{checked_authy_id(authy_id)}/phone_number"
