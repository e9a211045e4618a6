"""Property tests of phone-number normalisation (validate_phone and build_phone_row).

The numbers come from libphonenumber's example number of every supported region and number
type, and from those examples with random national digits. The expected region, type and
validity are libphonenumber's own results for the E.164 form.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from authy_assets.phones import build_phone_row, validate_phone

NUMBER_TYPES = (
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
)
FETCHED_AT = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def _example_numbers() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for number_type in NUMBER_TYPES:
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None:
                examples.append((region, example))
    return examples


EXAMPLES = _example_numbers()
# Regions whose national prefix (trunk prefix) is a plain digit string, such as 0 or 8.
NATIONAL_PREFIXES = {
    region: metadata.national_prefix
    for region in phonenumbers.SUPPORTED_REGIONS
    if (metadata := phonenumbers.PhoneMetadata.metadata_for_region(region)) is not None
    and metadata.national_prefix
    and metadata.national_prefix.isdigit()
}


def e164_of(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def trunk_prefix(region: str, number: phonenumbers.PhoneNumber) -> str:
    """Return the region's national prefix when the number's national format writes it, else "".

    Colombian mobiles and 7-digit Canadian numbers, for example, are written without it.
    """
    prefix = NATIONAL_PREFIXES.get(region, "")
    national_format = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    written = "".join(char for char in national_format if char.isdigit())
    national = phonenumbers.national_significant_number(number)
    return prefix if prefix and written == prefix + national else ""


def canonical_e164(e164: str) -> str | None:
    """Return libphonenumber's E.164 form of ``e164``, or None when it cannot parse it."""
    try:
        return e164_of(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None


def library_answer(e164: str) -> tuple[str | None, str | None, bool, bool]:
    """Return libphonenumber's region, type name, possibility and validity for ``e164``."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None, None, False, False
    return (
        phonenumbers.region_code_for_number(number),
        PhoneNumberType.to_string(phonenumbers.number_type(number)),
        phonenumbers.is_possible_number(number),
        phonenumbers.is_valid_number(number),
    )


@st.composite
def example_numbers(draw: st.DrawFn) -> tuple[str, phonenumbers.PhoneNumber]:
    return draw(st.sampled_from(EXAMPLES))


@st.composite
def random_numbers(draw: st.DrawFn) -> tuple[str, phonenumbers.PhoneNumber]:
    """An example number whose national digits after the first are random, same length."""
    region, example = draw(example_numbers())
    national = phonenumbers.national_significant_number(example)
    length = len(national) - 1
    tail = draw(st.text(alphabet="0123456789", min_size=length, max_size=length))
    digits = national[:1] + tail
    number = phonenumbers.PhoneNumber(
        country_code=example.country_code,
        national_number=int(digits),
        italian_leading_zero=digits.startswith("0") or None,
        number_of_leading_zeros=len(digits) - len(digits.lstrip("0")) or None,
    )
    return region, number


def test_examples_cover_every_region() -> None:
    regions = {region for region, _ in EXAMPLES}

    assert regions == set(phonenumbers.SUPPORTED_REGIONS)
    assert len(EXAMPLES) > 2 * len(regions)


@settings(max_examples=400, deadline=None)
@given(case=example_numbers() | random_numbers())
def test_parts_and_e164_consistent(case: tuple[str, phonenumbers.PhoneNumber]) -> None:
    _, number = case
    national = phonenumbers.national_significant_number(number)
    country_code = str(number.country_code)
    e164 = f"+{country_code}{national}"
    # Random digits that start with a trunk prefix, such as 8 in Belarus, are not a national
    # significant number, because libphonenumber drops the prefix when it parses them.
    # test_e164_with_trunk_prefix_inconsistent covers those.
    assume(canonical_e164(e164) == e164)

    result = validate_phone(national, country_code, e164)

    region, number_type, possible, valid = library_answer(e164)
    assert result.e164_well_formed is True
    assert result.e164_consistent is True, result.validation_problem
    assert result.region_code == region
    assert result.number_type == number_type
    assert result.is_possible is possible
    assert result.is_valid is valid
    assert result.has_extension is False


@settings(max_examples=200, deadline=None)
@given(case=example_numbers() | random_numbers())
def test_phone_row_keeps_fields_as_strings(case: tuple[str, phonenumbers.PhoneNumber]) -> None:
    _, number = case
    national = phonenumbers.national_significant_number(number)
    country_code = str(number.country_code)
    e164 = f"+{country_code}{national}"
    body = json.dumps(
        {
            "phone_number": national,
            "country_code": country_code,
            "e164": e164,
            "updated_at": "2021-12-09T15:41:20Z",
        }
    )

    row = build_phone_row(1, "ok", None, 200, body, FETCHED_AT)

    assert row["status"] == "ok"
    assert row["phone_number"] == national
    assert row["country_code"] == country_code
    assert row["e164"] == e164
    for column in ("phone_number", "country_code", "e164", "region_code", "number_type"):
        assert row[column] is None or type(row[column]) is str, column


@settings(max_examples=200, deadline=None)
@given(case=example_numbers())
def test_e164_with_trunk_prefix_inconsistent(case: tuple[str, phonenumbers.PhoneNumber]) -> None:
    # A client that glues country_code to a national number written with its trunk prefix
    # (0 in Germany, 8 in Russia) produces an e164 that libphonenumber reads differently.
    region, number = case
    prefix = trunk_prefix(region, number)
    assume(prefix)
    national = prefix + phonenumbers.national_significant_number(number)
    country_code = str(number.country_code)
    e164 = f"+{country_code}{national}"

    result = validate_phone(national, country_code, e164)

    assert canonical_e164(e164) != e164
    assert result.e164_consistent is False
    assert result.validation_problem is not None


def test_trunk_prefix_digits_inconsistent() -> None:
    # libphonenumber reads the leading 8 as Belarus's trunk prefix: +375 171552131.
    result = validate_phone("8171552131", "375", "+3758171552131")

    assert result.e164_consistent is False
    assert result.region_code == "BY"
    assert result.is_valid is True


def _with_separators(digits: str, rng: random.Random) -> str:
    """Return ``digits`` with spaces, dashes, dots or a parenthesised group between them."""
    if len(digits) > 4 and rng.random() < 0.5:
        cut = rng.randint(2, 4)
        return f"({digits[:cut]}) " + _with_separators(digits[cut:], rng)
    pieces = [digits[0]]
    for digit in digits[1:]:
        pieces.append(rng.choice(["", "", " ", "-", "."]) + digit)
    return "".join(pieces)


@settings(max_examples=300, deadline=None)
@given(case=example_numbers(), seed=st.integers(0, 2**32 - 1), use_prefix=st.booleans())
def test_formatting_variants_same_verdict(
    case: tuple[str, phonenumbers.PhoneNumber], seed: int, use_prefix: bool
) -> None:
    region, number = case
    national = phonenumbers.national_significant_number(number)
    country_code = str(number.country_code)
    e164 = e164_of(number)
    prefix = trunk_prefix(region, number) if use_prefix else ""
    rng = random.Random(seed)
    variants = [
        national,
        _with_separators(national, rng),
        prefix + _with_separators(national, rng),
        phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
    ]

    plain = validate_phone(national, country_code, e164)

    for variant in variants:
        result = validate_phone(variant, country_code, e164)
        assert result.e164_consistent is plain.e164_consistent, (variant, result)
        assert result.e164_consistent is True, (variant, result.validation_problem)
        assert result.region_code == plain.region_code, variant
        assert result.is_valid is plain.is_valid, variant


@settings(max_examples=300, deadline=None)
@given(
    case=example_numbers(),
    position=st.integers(min_value=1),
    digit=st.sampled_from("0123456789"),
)
def test_changed_e164_digit_inconsistent(
    case: tuple[str, phonenumbers.PhoneNumber], position: int, digit: str
) -> None:
    _, number = case
    national = phonenumbers.national_significant_number(number)
    country_code = str(number.country_code)
    e164 = e164_of(number)
    index = 1 + position % (len(e164) - 1)
    assume(e164[index] != digit)
    changed = e164[:index] + digit + e164[index + 1 :]

    result = validate_phone(national, country_code, changed)

    assert result.e164_consistent is False
    assert result.validation_problem is not None
    assert "disagrees" in result.validation_problem


@pytest.mark.parametrize(
    ("region", "prefix"), [("RU", "8"), ("GB", "0"), ("DE", "0"), ("IT", None)]
)
def test_national_prefixes_known(region: str, prefix: str | None) -> None:
    # The formatting property depends on these trunk prefixes. Italy has none, so its 0 stays.
    assert NATIONAL_PREFIXES.get(region) == prefix
