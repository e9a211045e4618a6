"""Tests of phone-number masking for logs and the UI."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authy_assets.masking import mask_phone, mask_text


def count_digits(text: str) -> int:
    return sum(1 for character in text if character.isnumeric())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+14445556666", "+1********66"),
        ("444-555-6666", "***-***-**66"),
        ("+1 444-555-6666", "+1 ***-***-**66"),
        ("+390212345678", "+39********78"),
        ("+77012345678", "+7********78"),
        ("+442079460018", "+44********18"),
        ("(444) 555-6666", "(***) ***-**66"),
        ("444-555-6666 ext. 12", "***-***-**** ext. 12"),
        ("14445556666.0", "**********6.0"),
        ("+999123456", "+*******56"),
        ("+1", "+1"),
        ("66", "66"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone_table(value: str | None, expected: str) -> None:
    assert mask_phone(value) == expected


def test_mask_phone_unicode_digits() -> None:
    masked = mask_phone("\u0664\u0664\u0664\u0665\u0665\u0665\u0666\u0666\u0666\u0666")

    assert masked == "********\u0666\u0666"


@settings(max_examples=500, deadline=None)
@given(st.text() | st.from_regex(r"\+?[0-9 ()\-.]{0,20}", fullmatch=True))
def test_mask_phone_reveals_at_most_two_digits(value: str) -> None:
    masked = mask_phone(value)

    assert len(masked) == len(value)
    visible = count_digits(masked)
    if value.startswith("+"):
        # "+" and a calling code of at most 3 digits may stay visible.
        assert visible <= 3 + 2
    else:
        assert visible <= 2
    for original, masked_character in zip(value, masked, strict=True):
        assert masked_character in (original, "*")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("user 12345 failed", "user 12345 failed"),
        ("call +14445556666 now", "call +1********66 now"),
        ("phone 444-555-6666.", "phone ***-***-**66."),
        ("phone (444) 555 6666", "phone (***) *** **66"),
        ("at 2021-12-09T15:41:20Z", "at 2021-12-09T15:41:20Z"),
        ("at 2021-12-09T15:41:20.123Z", "at 2021-12-09T15:41:20.123Z"),
        ("id 123456", "id ****56"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_text_table(text: str | None, expected: str) -> None:
    assert mask_text(text) == expected


def test_mask_text_documented_body() -> None:
    body = json.dumps(
        {
            "phone_number": "444-555-6666",
            "country_code": "1",
            "e164": "+14445556666",
            "updated_at": "2021-12-09T15:41:20Z",
        }
    )

    masked = mask_text(body)

    assert "444" not in masked
    assert "5556666" not in masked
    assert '"phone_number": "***-***-**66"' in masked
    assert '"e164": "+1********66"' in masked
    assert '"country_code": "1"' in masked
    assert "2021-12-09T15:41:20Z" in masked


digit_free_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Nd", "Nl", "No"), blacklist_characters="+-.()/ \u00a0"
    ),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(
    before=digit_free_text,
    number=st.from_regex(r"\+?[0-9]([ \-.()/]?[0-9]){5,14}", fullmatch=True),
    after=digit_free_text,
)
def test_mask_text_hides_embedded_number(before: str, number: str, after: str) -> None:
    masked = mask_text(f"{before} {number} {after}")

    assert count_digits(masked) <= 3 + 2
    if not number.startswith("+"):
        assert count_digits(masked) <= 2


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_mask_text_keeps_length(text: str) -> None:
    assert len(mask_text(text)) == len(text)
