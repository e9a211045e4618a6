"""Validation of one exported phone number against Twilio Verify and libphonenumber."""

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType


# Twilio Verify accepts only this form. [0-9] and fullmatch keep out Unicode digits
# and a trailing newline, both of which \d and $ would let through.
E164_PATTERN = re.compile(r"\+[1-9][0-9]{1,14}")


@dataclass(frozen=True)
class Validation:
    """Checks of one exported number.

    region_code, number_type, is_possible and is_valid describe ``e164``. They are
    None or False whenever ``e164`` is not well formed, because Verify would reject it.
    """

    e164_well_formed: bool
    e164_consistent: bool
    region_code: str | None
    number_type: str | None
    is_possible: bool
    is_valid: bool
    has_extension: bool
    validation_problem: str | None


def _normalize_calling_code(country_code: str) -> str | None:
    digits = country_code.strip().removeprefix("+")
    if re.fullmatch(r"[1-9][0-9]{0,2}", digits):
        return digits
    return None


def _number_from_parts(
    phone_number: str, calling_code: str
) -> phonenumbers.PhoneNumber | None:
    """Parse phone_number under calling_code, dropping a trunk prefix such as 0 or 8."""
    text = phone_number.strip()
    if not text.startswith("+"):
        text = f"+{calling_code} {text}"
    try:
        number = phonenumbers.parse(text, None)
    except NumberParseException:
        return None
    if str(number.country_code) != calling_code:
        return None
    return number


def _number_type_name(number: phonenumbers.PhoneNumber) -> str:
    number_type = phonenumbers.number_type(number)
    return PhoneNumberType.to_string(number_type) or str(number_type)


def validate_phone(
    phone_number: str | None, country_code: str | None, e164: str | None
) -> Validation:
    """Check an exported number for Twilio Verify and libphonenumber.

    e164_consistent holds when ``e164`` equals the E.164 form of phone_number parsed
    under country_code, with a trunk prefix such as the Russian 8 dropped and Italy's
    leading 0 kept. The region comes from the whole number, so +1 416 gives CA and
    +7 701 gives KZ. Never raises. A failing number is flagged, never dropped.
    """
    problems: list[str] = []
    well_formed = isinstance(e164, str) and E164_PATTERN.fullmatch(e164) is not None
    if e164 is None:
        problems.append("e164 is missing")
    elif not well_formed:
        problems.append("e164 is not well formed")

    has_extension = False
    consistent = False
    calling_code = _normalize_calling_code(country_code or "")
    if phone_number is None or country_code is None:
        problems.append("phone_number or country_code is missing")
    elif calling_code is None:
        problems.append("country_code is not a calling code")
    else:
        from_parts = _number_from_parts(phone_number, calling_code)
        if from_parts is None:
            problems.append("phone_number cannot be parsed with country_code")
        else:
            has_extension = bool(from_parts.extension)
            expected = phonenumbers.format_number(from_parts, PhoneNumberFormat.E164)
            consistent = e164 == expected
            if not consistent:
                problems.append("e164 disagrees with country_code and phone_number")
            if has_extension:
                problems.append("phone_number has an extension, which E.164 cannot hold")

    region_code = None
    number_type = None
    is_possible = False
    is_valid = False
    if well_formed and e164 is not None:
        try:
            number = phonenumbers.parse(e164, None)
        except NumberParseException:
            problems.append("e164 cannot be parsed")
        else:
            region_code = phonenumbers.region_code_for_number(number)
            number_type = _number_type_name(number)
            is_possible = phonenumbers.is_possible_number(number)
            is_valid = phonenumbers.is_valid_number(number)
            if not is_possible:
                problems.append("not a possible number")
            elif not is_valid:
                problems.append("not a valid number for any region")

    return Validation(
        e164_well_formed=well_formed,
        e164_consistent=consistent,
        region_code=region_code,
        number_type=number_type,
        is_possible=is_possible,
        is_valid=is_valid,
        has_extension=has_extension,
        validation_problem="; ".join(problems) or None,
    )
