"""Masking of phone numbers before they reach logs or the UI.

A masked value keeps its separators, the leading ``+`` with the country calling code
when one is recognisable, and the last two digits. Every other digit becomes ``*``.
"""

import re

import phonenumbers

MASK_CHARACTER = "*"
VISIBLE_TAIL_DIGITS = 2

# ITU calling codes are prefix-free, so the first prefix found in this set is the code.
_CALLING_CODES: frozenset[str] = frozenset(
    str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
)
_MAX_CALLING_CODE_DIGITS = 3
_ASCII_DIGITS = frozenset("0123456789")

# An ISO-8601 date-time such as 2021-12-09T15:41:20.123Z. Phone numbers never contain
# a "T", so mask_text leaves these alone and timestamps in logged bodies stay readable.
_ISO_DATETIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
# At least 6 digits, optionally led by "+", with up to 3 separators between digits.
_PHONE_LIKE = r"\+?\d(?:[ \-.()/\u00a0]{0,3}\d){5,}"
_TEXT_PATTERN = re.compile(f"(?P<datetime>{_ISO_DATETIME})|(?P<phone>{_PHONE_LIKE})")


def _is_digit(character: str) -> bool:
    # isnumeric() covers every Unicode digit (Arabic-Indic, fullwidth, superscripts),
    # because phonenumbers reads several of them as digits.
    return character.isnumeric()


def _calling_code_prefix_length(value: str) -> int:
    """Return how many leading characters of ``value`` make up ``+`` and its calling code.

    Returns 0 when ``value`` does not start with ``+`` followed by an assigned calling
    code. Separators between ``+`` and the code's digits count as part of the prefix.
    """
    if not value.startswith("+"):
        return 0

    digits = ""
    for index, character in enumerate(value[1:], start=1):
        if character in _ASCII_DIGITS:
            digits += character
            if digits in _CALLING_CODES:
                return index + 1
            if len(digits) >= _MAX_CALLING_CODE_DIGITS:
                return 0
        elif _is_digit(character):
            return 0
        elif character not in " -.()":
            return 0
    return 0


def mask_phone(value: str | None) -> str:
    """Mask a phone number, keeping ``+`` with the calling code and the last two digits.

    "+14445556666" becomes "+1********66" and "444-555-6666" becomes "***-***-**66".
    Returns "" for None. Non-digit characters are kept, so the layout stays visible.
    """
    if value is None:
        return ""

    prefix_length = _calling_code_prefix_length(value)
    prefix = value[:prefix_length]
    rest = value[prefix_length:]

    digit_count = sum(1 for character in rest if _is_digit(character))
    digits_to_hide = max(digit_count - VISIBLE_TAIL_DIGITS, 0)

    masked: list[str] = []
    for character in rest:
        if _is_digit(character) and digits_to_hide > 0:
            masked.append(MASK_CHARACTER)
            digits_to_hide -= 1
        else:
            masked.append(character)
    return prefix + "".join(masked)


def _mask_match(match: re.Match[str]) -> str:
    if match.group("datetime") is not None:
        return match.group(0)
    return mask_phone(match.group(0))


def mask_text(text: str | None) -> str:
    """Mask every phone-like run of at least 6 digits in free text with mask_phone.

    Separators inside a run (space, "-", ".", "(", ")", "/") are allowed. ISO-8601
    date-times with a "T" stay unmasked. Other long digit runs such as ids are masked
    too, because the pattern cannot tell them from phone numbers. Returns "" for None.
    """
    if text is None:
        return ""
    return _TEXT_PATTERN.sub(_mask_match, text)
